// The sharp side of the side-by-side benchmarks, driven by benchmarks/engines.py.
//
// Why a long-lived process: node and sharp take ~100 ms to start, which is not
// part of an upload's latency; the Python harness times each request end to end
// (a JSON line each way, well under a millisecond) exactly as it times imgsvc's
// in-process call. Sources are read into memory once ("load"), as the Python
// engines get their bytes before the clock starts.
//
// Each conversion is what a sharp user writes for a srcset: one pipeline per
// width, cloned from one input, all awaited together (sharp's own parallelism:
// libuv's thread pool across pipelines, libvips' threads inside each),
// .rotate() to auto-orient, .resize(width) with sharp's default lanczos3,
// .webp({quality: 80}) (effort 4, the same as Pillow's method 4), metadata
// stripped (sharp's default).
//
// Protocol: one JSON object per line on stdin, one JSON answer per line on stdout.
//   {"cmd": "info"}                                 -> versions and concurrency
//   {"cmd": "load", "files": [path...]}             -> {"ok": true}
//   {"cmd": "convert", "file": p, "widths": [w...], "data": bool}
//                                                   -> {"bytes": {w: n}, "data": {w: b64},
//                                                       "cpu_seconds": s}
//   {"cmd": "bulk", "jobs": [[path, [w...]], ...]}  -> {"bytes": total, "cpu_seconds": s}
// One-shot mode for the peak-memory probe: node sharp_runner.js --once PATH W1,W2,...
"use strict";

const fs = require("fs");
const readline = require("readline");
const sharp = require(process.env.IMGSVC_SHARP_PATH || "sharp");

const buffers = new Map();

function source(path) {
  let buf = buffers.get(path);
  if (!buf) {
    buf = fs.readFileSync(path);
    buffers.set(path, buf);
  }
  return buf;
}

async function convert(buf, widths) {
  const base = sharp(buf).rotate();
  const outs = await Promise.all(
    widths.map((w) => base.clone().resize(w).webp({ quality: 80 }).toBuffer()),
  );
  return outs;
}

async function handle(msg) {
  switch (msg.cmd) {
    case "info":
      return {
        versions: sharp.versions,
        concurrency: sharp.concurrency(),
        simd: sharp.simd(),
        uv_threadpool_size: Number(process.env.UV_THREADPOOL_SIZE || 4),
        node: process.version,
      };
    case "load":
      for (const path of msg.files) source(path);
      return { ok: true };
    case "convert": {
      const cpu = process.cpuUsage();
      const outs = await convert(source(msg.file), msg.widths);
      const used = process.cpuUsage(cpu);
      const answer = { bytes: {}, cpu_seconds: (used.user + used.system) / 1e6 };
      if (msg.data) answer.data = {};
      msg.widths.forEach((w, i) => {
        answer.bytes[w] = outs[i].length;
        if (msg.data) answer.data[w] = outs[i].toString("base64");
      });
      return answer;
    }
    case "bulk": {
      const cpu = process.cpuUsage();
      const all = await Promise.all(msg.jobs.map(([p, widths]) => convert(source(p), widths)));
      let total = 0;
      for (const outs of all) for (const out of outs) total += out.length;
      const used = process.cpuUsage(cpu);
      return { bytes: total, cpu_seconds: (used.user + used.system) / 1e6 };
    }
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

async function serve() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let answer;
    try {
      answer = await handle(JSON.parse(line));
    } catch (err) {
      answer = { error: String(err && err.stack ? err.stack : err) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

// Peak RSS from VmHWM, not process.resourceUsage().maxRSS: Linux carries the
// parent's high-water mark through fork and exec into the latter.
function peakKb() {
  const line = fs.readFileSync("/proc/self/status", "utf8").split("\n").find((l) => l.startsWith("VmHWM:"));
  return Number(line.split(/\s+/)[1]);
}

async function once(path, widths) {
  const started = performance.now();
  const outs = await convert(fs.readFileSync(path), widths);
  const total = outs.reduce((n, out) => n + out.length, 0);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ bytes: total, seconds, peak_kb: peakKb() }) + "\n");
}

if (process.argv[2] === "--once") {
  once(process.argv[3], process.argv[4].split(",").map(Number)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  serve();
}
