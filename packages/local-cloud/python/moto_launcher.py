"""Runs moto's server for one local cloud, and only as long as that cloud runs.

Started by the local cloud (src/moto.ts) with a pipe for stdin: it prints
`listening <port>` once moto answers, then waits on stdin. However the local
cloud ends (a clean stop, Ctrl-C, a crash, SIGKILL), the pipe closes and this
process exits with it, so no emulator is ever left behind. It ignores SIGINT:
a Ctrl-C in the terminal is for the local cloud, which stops its pollers before
its emulator.

Before moto serves anything, moto_patches.py makes it behave as AWS does where the
local cloud depends on it (each patch named and tested there); it refuses a moto
version the patches were not written for.
"""

import logging
import os
import signal
import sys


def main() -> int:
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        print(f"moto is not installed: {error}", file=sys.stderr)
        return 3
    import moto_patches

    try:
        moto_patches.apply_all()
    except moto_patches.UnsupportedMotoVersion as error:
        print(str(error), file=sys.stderr)
        return 4

    # Werkzeug logs every request to stderr, which nobody reads once moto is up: time wasted.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    profile_file = os.environ.get("LOCAL_CLOUD_MOTO_PROFILE")
    profiles = _profile_requests() if profile_file else None
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    _, bound = server.get_host_and_port()
    print(f"listening {bound}", flush=True)
    # Blocks until the local cloud closes the pipe or dies.
    while sys.stdin.buffer.read(4096):
        pass
    if profiles is not None:
        _write_profile(profiles, profile_file)
    # No server.stop(): an open keep-alive connection can hold its shutdown; the
    # process going is what frees the port.
    os._exit(0)


def _profile_requests():
    """cProfile every request (LOCAL_CLOUD_MOTO_PROFILE=<file>): where moto spends its time."""
    import cProfile
    import threading

    from werkzeug.serving import WSGIRequestHandler

    profiles = []
    lock = threading.Lock()
    handle = WSGIRequestHandler.handle_one_request

    def profiled(self):
        profile = cProfile.Profile()
        profile.enable()
        try:
            return handle(self)
        finally:
            profile.disable()
            with lock:
                profiles.append(profile)

    WSGIRequestHandler.handle_one_request = profiled
    return profiles


def _write_profile(profiles, file):
    import pstats

    if not profiles:
        return
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    stats.dump_stats(file)


if __name__ == "__main__":
    sys.exit(main())
