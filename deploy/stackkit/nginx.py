"""nginx serving deploy/'s edge template, as the image's nginx container does."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from acme.core.testing import accepts_connections, wait_until

from .server import DEPLOY, Server, StackError, wait_ready

EDGE_TEMPLATE = DEPLOY / "nginx" / "templates" / "acme.conf.template"
_EDGE_NAME = re.compile(r"\$\{(ACME_NGINX_[A-Z_]+)\}")


def render_edge(template: str, values: Mapping[str, str]) -> str:
    """The edge template with its ``${ACME_NGINX_*}`` names filled in (what envsubst does).

    Raises:
        StackError: the template names a variable ``values`` does not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StackError(f"the nginx template needs {name}, which the stack does not set")
        return values[name]

    return _EDGE_NAME.sub(value, template)


def default_nginx() -> str:
    """Debian's nginx, wherever PATH finds it (root's PATH may lack /usr/sbin)."""
    return shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Nginx(Server):
    """nginx with the edge template in front of ``upstream`` (``host:port``).

    ``replicas`` puts several servers in the upstream instead (a Service's
    endpoints); :meth:`route` takes one out of rotation or puts it back, as
    readiness does, and reloads nginx.
    """

    upstream: str = ""
    replicas: tuple[str, ...] = ()
    out_of_rotation: set[str] = field(default_factory=set)
    rate_limit: str = "1000r/s"
    rate_burst: int = 2000
    workers: int = 1
    binary: str = field(default_factory=default_nginx)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def access_log(self) -> Path:
        return self.logs / "access.log"

    def _upstream_servers(self) -> str:
        # The template writes "server ${ACME_NGINX_UPSTREAM} max_fails=0;": more
        # servers go in as further "server" lines of that upstream block.
        servers = self.replicas or (self.upstream,)
        lines = [f"{s} down" if s in self.out_of_rotation else s for s in servers]
        return " max_fails=0;\n    server ".join(lines)

    def _workers(self) -> set[int]:
        assert self.process is not None
        pid = self.process.pid
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def route(self, replica: str, *, serving: bool) -> None:
        """Put ``replica`` in rotation or take it out, and wait until new workers use that.

        nginx's old workers finish the requests they hold; new connections go
        to the new workers, which have the new upstream.
        """
        if serving:
            self.out_of_rotation.discard(replica)
        else:
            self.out_of_rotation.add(replica)
        self._write_config()
        old = self._workers()
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: bool(self._workers() - old), timeout=10, what="nginx to start new workers"
        )

    def _write_config(self) -> Path:
        temp = self.root / "temp"
        for directory in (self.logs, temp):
            directory.mkdir(parents=True, exist_ok=True)
        temp.chmod(0o777)  # nginx workers run as nobody when started by root
        site = self.root / "acme.conf"
        edge = {
            "ACME_NGINX_LISTEN": self.address,
            "ACME_NGINX_UPSTREAM": self._upstream_servers(),
            "ACME_NGINX_LOG_DIR": str(self.logs),
            "ACME_NGINX_RATE_LIMIT": self.rate_limit,
            "ACME_NGINX_RATE_BURST": str(self.rate_burst),
        }
        site.write_text(render_edge(EDGE_TEMPLATE.read_text(), edge))
        main = self.root / "nginx.conf"
        main.write_text(
            f"""daemon off;
worker_processes {self.workers};
pid {self.root}/nginx.pid;
error_log {self.logs}/main-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""
        )
        return main

    def start(self, *, timeout: float = 15) -> None:
        """Check the configuration (``nginx -t``), start nginx and wait until it listens.

        Raises:
            StackError: nginx rejected the configuration, exited or never listened.
        """
        main = self._write_config()
        error_log = self.logs / "main-error.log"
        command = [self.binary, "-p", str(self.root), "-c", str(main), "-e", str(error_log)]
        check = subprocess.run(  # noqa: S603 - our nginx and our config
            [*command, "-t"], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise StackError(f"nginx -t rejected the config:\n{check.stderr}")
        with (self.logs / "stdout.log").open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our nginx and our config
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_ready(
            partial(accepts_connections, self.port),
            process=self.process,
            log=error_log,
            timeout=timeout,
            what=f"nginx on port {self.port}",
        )

    def stop(self, *, sig: int = signal.SIGQUIT, timeout: float = 60) -> None:
        """Stop gracefully (SIGQUIT: finish the requests in flight)."""
        super().stop(sig=sig, timeout=timeout)
