"""gunicorn settings for `imgsvc serve` (https://docs.gunicorn.org/en/stable/settings.html).

Conversion is CPU-bound but Pillow releases the GIL while it resizes and
encodes, and uploads to S3 wait on the network: a few threads per process keep
both cores busy without paying for a process per request.

`imgsvc serve` adds, whatever this file says: JSON logs (unless `logconfig_dict`
is set here), a `child_exit` hook for the Prometheus multiprocess directory, and
its own removal of that directory at exit. See docs/operations.md.
"""

import multiprocessing

worker_class = "gthread"
workers = max(2, multiprocessing.cpu_count())
# Threads bound the requests a worker holds at once, so they bound its memory too:
# each may hold one upload body (max_upload_bytes); at most max_concurrent_conversions
# of them decode at a time, the others wait (queue_timeout) or get 503 saturated.
threads = 4
# Replaces a worker whose main loop stops answering. It does not end a thread stuck
# reading a slow client: the app's body deadline (IMGSVC_UPLOAD_TIMEOUT, 408) does.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Long-running image workers fragment memory; recycling them keeps RSS flat.
max_requests = 2000
max_requests_jitter = 200
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# The app logs every request as JSON, with its request id and error code.
accesslog = None
errorlog = "-"
loglevel = "info"
# gunicorn >= 25.1 opens a control socket for gunicornc at one fixed path per user
# ($HOME/.gunicorn/gunicorn.ctl), which every instance on the host would share. imgsvc
# does not use it; older gunicorns ignore the setting.
control_socket_disable = True
