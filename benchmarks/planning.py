"""Planning rate of ``imgsvc reconvert`` on a real SeaweedFS with many stored images.

``python -m benchmarks.planning [--images 50000] [--rounds 2] [--old-tree DIR]``

Seeds a bucket cheaply (one real ingest of a tiny 2000x8 photo, then its original
and its manifest, emptied of variants, copied with boto3 in threads under new
uuid4s: two keys an image, every image current, so a dry run classifies without
converting), then measures, each ``--rounds`` times:

- ``reconvert --dry-run`` of the code in ``--old-tree`` (an export of the commit
  before the counting listing was removed), when given: "before";
- ``reconvert --dry-run`` of this tree: "after";
- ``reconvert --enqueue --shards 256`` planned by two ``imgsvc worker -c 1``.

For each: wall seconds, images/s, CPU seconds per image of imgsvc's processes and
of SeaweedFS (the same two cores serve both), peak RSS of the planning process.
CPU is read from ``/proc`` (process groups) or ``wait4``; ``uptime`` is printed
before and after, since other processes may share the machine. Not part of
``make test``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
from PIL import Image

from imgsvc import ImageService, Settings
from imgsvc.storage.s3 import S3Storage
from tests.support.seaweed import ACCESS_KEY, SECRET_KEY, SeaweedS3

PREFIX = "news-by"
TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parents[1]


def env_for(server: SeaweedS3, bucket: str, **extra: str) -> dict[str, str]:
    return {
        "IMGSVC_STORAGE": "s3",
        "IMGSVC_S3_BUCKET": bucket,
        "IMGSVC_S3_ENDPOINT_URL": server.endpoint,
        "IMGSVC_KEY_PREFIX": PREFIX,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }


def seed(server: SeaweedS3, bucket: str, images: int) -> None:
    """One real ingest, then ``images - 1`` copies of its objects under new ids."""
    settings = Settings.load(env_for(server, bucket))
    storage = S3Storage.from_settings(settings)
    service = ImageService(settings, storage)
    photo = io.BytesIO()
    Image.linear_gradient("L").resize((2000, 8)).convert("RGB").save(photo, "JPEG")
    template = service.ingest(photo.getvalue(), "photo.jpg")
    service.close()
    old = str(template["id"])
    manifest_key = f"{PREFIX}/{old}/manifest.json"
    manifest = json.loads(storage.get(manifest_key).data)
    manifest["variants"] = []  # two objects an image: the original and the manifest
    original = manifest["original"]["key"]
    objects = {
        original: (storage.get(original).data, "image/jpeg"),
        manifest_key: (json.dumps(manifest).encode(), "application/json"),
    }
    client = server.client()

    def one(_: int) -> None:
        new = str(uuid.uuid4())
        for key, (data, ctype) in objects.items():
            if key.endswith("manifest.json"):
                data = data.replace(old.encode(), new.encode())
            client.put_object(
                Bucket=bucket, Key=key.replace(old, new), Body=data, ContentType=ctype
            )

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        for done, _ in enumerate(pool.map(one, range(images - 1)), 2):
            if done % 5000 == 0:
                print(f"  seeded {done} images in {time.monotonic() - started:.0f}s", flush=True)


def group_cpu(pgid: int) -> float:
    """CPU seconds of the live processes of a process group."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def dry_run(env: dict[str, str], tree: Path, weed: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "imgsvc", "reconvert", "--dry-run"]
    full = os.environ | env | {"PYTHONPATH": str(tree)}
    weed0, wall0 = pid_cpu(weed), time.perf_counter()
    proc = subprocess.Popen(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - wall0
    assert status == 0, out
    images = int(next(line.split()[1] for line in out.splitlines() if "images" in line))
    return {
        "images": images,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "weed_cpu": pid_cpu(weed) - weed0,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def sharded(env: dict[str, str], weed: int, images: int, workdir: Path) -> dict[str, float]:
    ns = f"imgsvc-bench-{uuid.uuid4().hex[:8]}"
    cenv = os.environ | env | {"IMGSVC_CELERY_NAMESPACE": ns, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "imgsvc", "worker", "-c", "1", "-l", "WARNING"],
            env=cenv,
            stdout=(workdir / f"worker{i}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for i in range(2)
    ]
    time.sleep(8)  # both started and idle before any clock runs
    client = redis.Redis.from_url(env.get("IMGSVC_BROKER_URL", "redis://127.0.0.1:6379/0"))
    cpu0 = sum(group_cpu(w.pid) for w in workers)
    weed0, wall0 = pid_cpu(weed), time.perf_counter()
    enq = subprocess.run(
        [sys.executable, "-m", "imgsvc", "reconvert", "--enqueue", "--shards", "256"],
        env=cenv,
        capture_output=True,
        text=True,
        check=True,
    )
    run = client.get(f"{ns}:last-run")
    assert run is not None, enq.stdout
    meta = f"{ns}:run:{run.decode()}:meta"
    while int(client.hget(meta, "shards_done") or 0) < 256:
        time.sleep(0.2)
    wall = time.perf_counter() - wall0
    cpu = sum(group_cpu(w.pid) for w in workers) - cpu0
    weed_cpu = pid_cpu(weed) - weed0
    planned = int(client.hget(f"{ns}:run:{run.decode()}:plan", "images") or 0)
    for w in workers:
        os.killpg(w.pid, 15)
    for w in workers:
        w.wait(30)
    for key in client.scan_iter(f"{ns}:*"):
        client.delete(key)
    assert planned == images, (planned, images)
    return {"images": planned, "wall": wall, "cpu": cpu, "weed_cpu": weed_cpu, "rss_mib": 0.0}


def row(name: str, m: dict[str, float]) -> str:
    n = m["images"]
    rss = f"{m['rss_mib']:.0f}" if m["rss_mib"] else "-"
    return (
        f"| {name} | {n:.0f} | {m['wall']:.1f} | {n / m['wall']:.0f} | "
        f"{1000 * m['cpu'] / n:.2f} | {1000 * m['weed_cpu'] / n:.2f} | {rss} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-tree", type=Path)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    workdir = Path(tempfile.mkdtemp(prefix="imgsvc-planning-"))
    server = SeaweedS3(workdir / "weed")
    server.start()
    try:
        bucket = "planning"
        server.create_bucket(bucket, public_read=False)
        print(f"uptime before seeding: {subprocess.getoutput('uptime')}", flush=True)
        seed(server, bucket, args.images)
        assert server.proc is not None
        weed, env = server.proc.pid, env_for(server, bucket)
        print(f"uptime before measuring: {subprocess.getoutput('uptime')}", flush=True)
        results: list[tuple[str, dict[str, float]]] = []
        for r in range(args.rounds):
            if args.old_tree:
                results.append(
                    (f"dry run, before (round {r + 1})", dry_run(env, args.old_tree, weed))
                )
                print(row(*results[-1]), flush=True)
            results.append((f"dry run, after (round {r + 1})", dry_run(env, REPO, weed)))
            print(row(*results[-1]), flush=True)
            results.append(
                (f"2 workers, 256 shards (round {r + 1})", sharded(env, weed, args.images, workdir))
            )
            print(row(*results[-1]), flush=True)
        print(f"uptime after: {subprocess.getoutput('uptime')}")
        print(
            "| run | images | wall s | images/s | imgsvc CPU ms/image"
            " | SeaweedFS CPU ms/image | peak RSS MiB |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, m in results:
            print(row(name, m))
        (workdir / "results.json").write_text(json.dumps(results, indent=1))
        print(f"(raw figures in {workdir / 'results.json'})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
