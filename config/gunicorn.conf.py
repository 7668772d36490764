"""gunicorn settings for `imgsvc serve` (https://docs.gunicorn.org/en/stable/settings.html).

Conversion is CPU-bound but Pillow releases the GIL while it resizes and
encodes, and uploads to S3 wait on the network: a few threads per process keep
both cores busy without paying for a process per request.
"""

import multiprocessing

worker_class = "gthread"
workers = max(2, multiprocessing.cpu_count())
threads = 4
# A 50 MB upload over a slow link still finishes; a stuck worker is replaced.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Long-running image workers fragment memory; recycling them keeps RSS flat.
max_requests = 2000
max_requests_jitter = 200
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
loglevel = "info"
