"""PgBouncer with deploy/pgbouncer/pgbouncer.ini, in front of a PostgreSQL on loopback.

The shipped file's pool settings are kept; only what is about this machine
changes: the address, trust authentication (the private clusters trust
loopback), the files' places, and the database PgBouncer forwards to.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from acme.core.testing import accepts_connections

from .server import DEPLOY, Server, wait_ready

PGBOUNCER_INI = DEPLOY / "pgbouncer" / "pgbouncer.ini"
# Debian's package; root's PATH may lack /usr/sbin.
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _setting(ini: str, name: str, value: str) -> str:
    line = re.compile(rf"^{re.escape(name)}\s*=.*$", re.MULTILINE)
    if not line.search(ini):
        raise ValueError(f"{PGBOUNCER_INI} has no {name} setting")
    return line.sub(f"{name} = {value}", ini)


def pgbouncer_setting(name: str) -> str:
    """A value of the shipped pgbouncer.ini (``default_pool_size``, ``pool_mode``, ...)."""
    found = re.search(rf"^{re.escape(name)}\s*=\s*(.*)$", PGBOUNCER_INI.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{PGBOUNCER_INI} has no {name} setting")
    return found.group(1).strip()


@dataclass
class PgBouncer(Server):
    """PgBouncer forwarding database ``database`` (``*``: every one) to PostgreSQL on
    ``127.0.0.1:server_port``.

    PgBouncer refuses to run as root: as root it runs as the ``postgres`` user.
    """

    server_port: int
    database: str = "acme"
    user: str = "postgres"

    @property
    def log(self) -> Path:
        return self.root / "pgbouncer.log"

    def database_url(self, database: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` through PgBouncer."""
        return f"postgresql+asyncpg://{self.user}@{self.address}/{database or self.database}"

    def _write_config(self) -> Path:
        ini = PGBOUNCER_INI.read_text()
        databases = self.root / "databases.ini"
        # "*": PgBouncer's fallback, any database name, forwarded as it is.
        target = "" if self.database == "*" else f" dbname={self.database}"
        databases.write_text(
            f"[databases]\n{self.database} = host=127.0.0.1 port={self.server_port}{target}\n"
        )
        userlist = self.root / "userlist.txt"
        userlist.write_text(f'"{self.user}" ""\n')
        for name, value in {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "auth_type": "trust",
            "auth_file": str(userlist),
        }.items():
            ini = _setting(ini, name, value)
        ini = ini.replace("%include /etc/pgbouncer/databases.ini", f"%include {databases}")
        # In [pgbouncer], before the %include that opens [databases].
        ini = ini.replace(
            "[pgbouncer]\n",
            f"[pgbouncer]\nlogfile = {self.log}\npidfile = {self.root / 'pgbouncer.pid'}\n"
            f"unix_socket_dir = {self.root}\nadmin_users = {self.user}\n",
            1,
        )
        config = self.root / "pgbouncer.ini"
        config.write_text(ini)
        return config

    def start(self, *, timeout: float = 15) -> None:
        """Start PgBouncer and wait until it listens.

        Raises:
            StackError: PgBouncer exited or never listened, with its log's last lines.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        command = [PGBOUNCER, str(config)]
        if os.geteuid() == 0:
            for path in (self.root, *self.root.iterdir()):
                shutil.chown(path, "postgres", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        with (self.root / "stdout.log").open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - Debian's pgbouncer, our config
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_ready(
            partial(accepts_connections, self.port),
            process=self.process,
            log=self.log,
            timeout=timeout,
            what=f"pgbouncer on port {self.port}",
        )

    def stop(self, *, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop at once (SIGTERM: PgBouncer's immediate shutdown)."""
        super().stop(sig=sig, timeout=timeout)

    def show(self, what: str) -> list[dict[str, str]]:
        """``SHOW what`` on PgBouncer's admin console (``POOLS``, ``STATS``), one dict a row."""
        psql = shutil.which("psql") or "/usr/bin/psql"
        address = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "pgbouncer"]
        result = subprocess.run(  # noqa: S603 - PostgreSQL's client
            [psql, *address, "--csv", "-c", f"SHOW {what}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        lines = result.stdout.splitlines()
        header = lines[0].split(",")
        return [dict(zip(header, row.split(","), strict=False)) for row in lines[1:]]
