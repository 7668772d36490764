"""Configuration that ships with imgsvc: gunicorn settings and example TOML profiles.

Installed as ``imgsvc.config`` (see pyproject.toml) so that ``imgsvc serve`` finds
``gunicorn.conf.py`` in a wheel install too, not only in a checkout.
"""
