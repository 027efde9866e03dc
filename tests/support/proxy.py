"""A TLS reverse proxy from Debian's packages in front of the test's processes: nginx or
Caddy, each running the example config the README ships (docs/proxy/), with only the site's
address, the certificate and the app's port put in. Beside it, a second HTTPS origin (a
"blog") serving one static page, for the embedded form.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.smtp import free_port
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "proxy"
PROXIES = ("nginx", "caddy")
BINARIES = {"nginx": "/usr/sbin/nginx", "caddy": "/usr/bin/caddy"}
#: What the examples name, and what a test's proxy puts in its place.
EXAMPLE_SITE = "course.example.org"
EXAMPLE_UPSTREAM = "127.0.0.1:5000"


def missing_binary(kind: str) -> str | None:
    path = BINARIES[kind]
    return None if Path(path).exists() or shutil.which(kind) else path


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the browser is told to accept it)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@dataclass
class Proxy:
    kind: str
    site: str  # https://127.0.0.1:PORT, the address readers see
    blog: str  # https://127.0.0.1:PORT, another origin, with the form on a page
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)


def start(kind: str, folder: Path, *, app_port: int, blog_page: str) -> Proxy:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = certificate(folder)
    site_port, blog_port, plain_port = free_port(), free_port(), free_port()
    blog_root = folder / "blog"
    blog_root.mkdir()
    (blog_root / "index.html").write_text(blog_page)
    starter = _nginx if kind == "nginx" else _caddy
    command, env = starter(folder, cert, key, app_port, site_port, blog_port, plain_port)
    log = folder / f"{kind}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    proxy = Proxy(
        kind, f"https://127.0.0.1:{site_port}", f"https://127.0.0.1:{blog_port}", process, log
    )
    wait_for(
        lambda: _listening(site_port) and _listening(blog_port) or process.poll() is not None,
        30,
        f"{kind} to listen",
    )
    if process.poll() is not None:
        raise AssertionError(f"{kind} stopped: {log.read_text()}")
    return proxy


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _nginx(
    folder: Path, cert: Path, key: Path, app_port: int, site: int, blog: int, plain: int
) -> tuple[list[str], dict[str, str]]:
    example = (EXAMPLES / "nginx.conf").read_text()
    site_conf = (
        example.replace("listen 443 ssl;", f"listen 127.0.0.1:{site} ssl;")
        .replace("listen 80;", f"listen 127.0.0.1:{plain};")
        .replace(f"/etc/letsencrypt/live/{EXAMPLE_SITE}/fullchain.pem", str(cert))
        .replace(f"/etc/letsencrypt/live/{EXAMPLE_SITE}/privkey.pem", str(key))
        .replace(EXAMPLE_UPSTREAM, f"127.0.0.1:{app_port}")
        .replace(EXAMPLE_SITE, "127.0.0.1")
    )
    (folder / "site.conf").write_text(site_conf)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(exist_ok=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"{user}worker_processes 1;\nerror_log {folder}/error.log;\npid {folder}/nginx.pid;\n"
        "events {}\nhttp {\n"
        f"  access_log {folder}/access.log;\n"
        f"  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
        f"  fastcgi_temp_path {folder}/fastcgi;\n  uwsgi_temp_path {folder}/uwsgi;\n"
        f"  scgi_temp_path {folder}/scgi;\n"
        "  types { text/html html; }\n"
        f"  include {folder}/site.conf;\n"
        f"  server {{\n    listen 127.0.0.1:{blog} ssl;\n    ssl_certificate {cert};\n"
        f"    ssl_certificate_key {key};\n    root {folder}/blog;\n  }}\n"
        "}\n"
    )
    command = [BINARIES["nginx"], "-p", str(folder), "-c", str(folder / "nginx.conf")]
    return [*command, "-g", "daemon off;"], dict(os.environ)


def _caddy(
    folder: Path, cert: Path, key: Path, app_port: int, site: int, blog: int, plain: int
) -> tuple[list[str], dict[str, str]]:
    example = (EXAMPLES / "Caddyfile").read_text()
    site_block = example.replace(
        f"{EXAMPLE_SITE} {{", f"https://127.0.0.1:{site} {{\n\ttls {cert} {key}"
    ).replace(EXAMPLE_UPSTREAM, f"127.0.0.1:{app_port}")
    (folder / "Caddyfile").write_text(
        # no ACME and no admin endpoint in a test; the example's site block as shipped
        f"{{\n\tadmin off\n\tauto_https disable_redirects\n\thttp_port {plain}\n"
        f"\tstorage file_system {folder}/caddy\n}}\n\n"
        f"{site_block}\n"
        f"https://127.0.0.1:{blog} {{\n\ttls {cert} {key}\n\troot * {folder}/blog\n"
        "\tfile_server\n}\n"
    )
    env = {**os.environ, "XDG_DATA_HOME": str(folder / "data"), "XDG_CONFIG_HOME": str(folder)}
    command = [BINARIES["caddy"], "run", "--config", str(folder / "Caddyfile")]
    return [*command, "--adapter", "caddyfile"], env
