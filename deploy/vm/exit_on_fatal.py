"""supervisord event listener: a program that gives up (FATAL) takes supervisord down.

supervisord alone logs ``gave up: api entered FATAL state`` and keeps running,
so whatever watches it (systemd's ``Restart=on-failure``, a monitor) never
learns the server is gone. This listener kills supervisord when that happens.

Why SIGKILL and not SIGTERM: a clean supervisord shutdown exits 0, which tells
systemd nothing failed. When a program is FATAL it is no longer running, and
the API is the only program of deploy/vm/supervisord.conf, so nothing is cut
short; the listener itself ends with supervisord's pipe.

Protocol (supervisor's event listener docs): write READY, read one header line
and a payload of the length it gives, answer RESULT 2 OK, repeat.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def fields(line: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in line.split())


def main() -> None:
    supervisord = os.getppid()
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header_line = sys.stdin.readline()
        if not header_line:
            return  # supervisord closed our stdin: it is shutting down
        header = fields(header_line)
        payload = fields(sys.stdin.read(int(header["len"])))
        if header["eventname"] == "PROCESS_STATE_FATAL":
            sys.stderr.write(
                f"exit_on_fatal: {payload.get('processname', '?')} is FATAL; "
                f"killing supervisord (pid {supervisord}) so its supervisor sees a failure\n"
            )
            sys.stderr.flush()
            time.sleep(1)  # for supervisord to copy that line to its log before it dies
            os.kill(supervisord, signal.SIGKILL)
            return
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
