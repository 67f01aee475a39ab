"""`kubedrift sandbox` and `python -m sandbox`: run the API server in the foreground until a signal."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from sandbox.handle import Sandbox


async def _serve(host: str, port: int, write_kubeconfig: Path | None) -> int:
    try:
        sandbox = await Sandbox(host=host, port=port).start()
    except OSError as error:
        print(
            f"kubedrift sandbox: cannot listen on {host}:{port}: {error.strerror or error}; "
            "choose another --port or stop what is using it.",
            file=sys.stderr,
        )
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"Sandbox Kubernetes API server listening on {sandbox.url}", flush=True)
    if write_kubeconfig is not None:
        sandbox.kubeconfig(write_kubeconfig)
        print(f'Wrote kubeconfig (context "sandbox") to {write_kubeconfig}', flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await sandbox.stop()
    print("Sandbox stopped.", flush=True)
    return 0


def run(host: str, port: int, write_kubeconfig: Path | None) -> int:
    """Serve until SIGINT or SIGTERM; the exit code for `kubedrift sandbox`."""
    return asyncio.run(_serve(host, port, write_kubeconfig))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Run the kubedrift sandbox Kubernetes API server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port to listen on; 0 picks a free one")
    parser.add_argument(
        "--write-kubeconfig",
        type=Path,
        default=None,
        metavar="FILE",
        help="write a kubeconfig for the sandbox (context 'sandbox') to FILE",
    )
    args = parser.parse_args(argv)
    return run(args.host, args.port, args.write_kubeconfig)
