#!/usr/bin/env python3
"""Runs a command through the remote client against vxpu-remote-worker on this machine, for the
GPU suite (tests/gpu/run.sh), where the vxpu CLI (and so `vxpu remoted`) may be missing: this
plays remoted's part for loopback sessions (read Hello, check the token, hand the connection to a
worker). Real sessions use `vxpu remoted` (docs/remote.md).

  remote_session.py --build DIR [--worker-env NAME=VALUE ...] -- COMMAND [ARGS...]

Exit status: the command's; 2 on bad usage or a session the worker could not start.
"""
import argparse
import os
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading

HEADER = struct.Struct("<HHIQ")  # op, nargs, ctx, blob bytes (src/remote/protocol.h)
HELLO_OP = 1


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client left during Hello")
        data += chunk
    return data


def serve(listener, token, worker, worker_env, workers):
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            conn.settimeout(5)
            op, nargs, _, blob = HEADER.unpack(read_exact(conn, HEADER.size))
            if op != HELLO_OP or nargs != 4 or blob > 4096 + 128:
                raise ConnectionError("not a Hello")
            args = struct.unpack("<4Q", read_exact(conn, 32))
            data = read_exact(conn, blob)
            if data[: args[1]] != token:
                raise ConnectionError("wrong token")
            conn.settimeout(None)
            fd = conn.fileno()
            workers.append(subprocess.Popen([worker, "--fd", str(fd)], pass_fds=[fd], env=worker_env))
        except (ConnectionError, socket.timeout, struct.error) as e:
            print(f"remote_session.py: session refused: {e}", file=sys.stderr)
        finally:
            conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--worker-env", action="append", default=[])
    parser.add_argument("command", nargs="+")
    options = parser.parse_args()
    build = os.path.abspath(options.build)
    worker = os.path.join(build, "bin", "vxpu-remote-worker")
    if not os.access(worker, os.X_OK):
        print(f"remote_session.py: missing {worker}", file=sys.stderr)
        return 2
    token = secrets.token_hex(16).encode()
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(token)
        token_file = f.name
    os.chmod(token_file, 0o600)
    worker_env = dict(os.environ)
    for entry in options.worker_env:
        name, _, value = entry.partition("=")
        worker_env[name] = value
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    workers = []
    threading.Thread(target=serve, args=(listener, token, worker, worker_env, workers), daemon=True).start()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(build, "lib", "remote") + ":" + env.get("LD_LIBRARY_PATH", "")
    env["VXPU_REMOTE"] = "127.0.0.1:%d" % listener.getsockname()[1]
    env["VXPU_REMOTE_TOKEN_FILE"] = token_file
    try:
        code = subprocess.call(options.command, env=env)
    finally:
        listener.close()
        for w in workers:
            w.wait(timeout=10)
        os.unlink(token_file)
    return code


if __name__ == "__main__":
    sys.exit(main())
