"""What a running service needs beside the pipeline: conversion slots (back-pressure),
metrics, structured logs. Shared by the web, the CLI and the workers."""
