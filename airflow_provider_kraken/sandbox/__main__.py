"""CLI: `python -m airflow_provider_kraken.sandbox` / `kraken-sandbox`.

Once the server accepts requests it prints exactly one line to stdout:
`kraken-sandbox ready {"url": ..., "admin_token": ..., "api_key": ..., "api_secret": ..., "pid": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
from collections.abc import Sequence

from .server import READY_PREFIX, bind_socket, build_host, make_server, random_credentials, socket_url


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="kraken-sandbox", description="Local Kraken funding API simulator.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = any free port; default 0)")
    parser.add_argument("--api-key", help="API key of the default account (every funding permission)")
    parser.add_argument("--api-secret", help="its base64 secret (both random when omitted)")
    parser.add_argument(
        "--tier",
        default="pro",
        choices=["starter", "intermediate", "pro", "unlimited"],
        help="rate tier of that key (default pro; 'unlimited' for benchmarks)",
    )
    parser.add_argument("--config", help="world TOML file (default: the packaged default world)")
    parser.add_argument("--admin-token", help="token for the /_sandbox admin API (random when omitted)")
    parser.add_argument(
        "--print-default-world", action="store_true", help="print the default world TOML and exit"
    )
    args = parser.parse_args(argv)
    if (args.api_key is None) != (args.api_secret is None):
        parser.error("--api-key and --api-secret go together")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until SIGINT/SIGTERM."""
    args = parse_args(argv)
    if args.print_default_world:
        from .world import default_world_text

        sys.stdout.write(default_world_text())
        return 0
    api_key, api_secret = (args.api_key, args.api_secret) if args.api_key else random_credentials()
    try:
        host = build_host(
            world=args.config,
            api_key=api_key,
            api_secret=api_secret,
            tier=args.tier,
            admin_token=args.admin_token,
        )
    except (OSError, ValueError) as exc:
        print(f"kraken-sandbox: cannot load world: {exc}", file=sys.stderr)
        return 2
    from .app import create_app

    gc.collect()
    gc.freeze()  # startup objects (modules, the world) never need scanning again: cheaper collections later
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"kraken-sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    server = make_server(create_app(host))
    ready = {
        "url": socket_url(sock),
        "admin_token": host.admin_token,
        "api_key": api_key,
        "api_secret": api_secret,
        "pid": os.getpid(),
    }

    async def announce_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.005)
        print(READY_PREFIX + json.dumps(ready), flush=True)

    async def serve() -> None:
        watcher = asyncio.create_task(announce_when_ready())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()

    loop_factory = server.config.get_loop_factory()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
