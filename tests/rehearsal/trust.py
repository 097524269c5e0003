"""Runs a command with the trust store of Amazon Linux 2023 (provided.al2023) and nothing else.

The command runs in a private mount namespace (``unshare --mount``) whose /etc is a tmpfs holding
a symbolic link to every entry of the host's /etc except ``ssl`` and ``pki`` — the host's CA
bundles (Debian's /etc/ssl/certs) are out of sight — and, when a bundle is given, that bundle at
AL2023's path, /etc/pki/tls/certs/ca-bundle.crt (AL2023's /etc/ssl/certs is a link into
/etc/pki/tls/certs). qemu's ``-L`` prefix alone cannot do this: it falls back to the host's own
files, and a probe finds Debian's bundle first. The host's files are not touched: the namespace
and its mounts end with the command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

AL2023_BUNDLE = "/etc/pki/tls/certs/ca-bundle.crt"

_SETUP = r"""
set -eu
keep=$1 bundle=$2
shift 2
mount --bind /etc "$keep"
mount -t tmpfs -o mode=0755 al2023-etc /etc
for entry in "$keep"/* "$keep"/.[!.]*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue
  case ${entry##*/} in ssl|pki) continue ;; esac
  ln -s "$entry" "/etc/${entry##*/}"
done
if [ -n "$bundle" ]; then
  mkdir -p "${AL2023_BUNDLE%/*}"
  cp "$bundle" "$AL2023_BUNDLE"
fi
exec "$@"
"""


def _as_root() -> list[str]:
    """How this process gets the right to mount: it is root; or unprivileged user namespaces work
    (``--map-root-user``); or passwordless sudo, keeping the environment (GitHub's runners, whose
    Ubuntu 24.04 restricts unprivileged user namespaces)."""
    if os.geteuid() == 0:
        return ["unshare"]
    if subprocess.run(["unshare", "--map-root-user", "--mount", "true"], capture_output=True).returncode == 0:
        return ["unshare", "--map-root-user"]
    return ["sudo", "-n", "-E", "unshare"]


def confined(command: list[str], bundle: Path | None, keep: Path) -> list[str]:
    """`command`, run where AL2023's bundle path holds `bundle` (or nothing, for None) and no other
    CA bundle is visible. `keep` is an empty directory the host's /etc is mounted on inside the
    namespace."""
    setup = _SETUP.replace("$AL2023_BUNDLE", AL2023_BUNDLE).replace("${AL2023_BUNDLE%/*}", str(Path(AL2023_BUNDLE).parent))
    return [*_as_root(), "--mount", "--propagation", "private", "/bin/sh", "-c", setup, "al2023-trust",
            str(keep), str(bundle or ""), *command]
