"""What an ``exec`` command line shows: files read and written, uploads, hosts contacted.

OpenClaw records only the command and its output, so this is the one view into work done
inside ``exec`` (reference section 11, gap 3). The parser is deliberately shallow: it
tokenises like a POSIX shell (quotes, pipes, ``&&``, ``;``, redirections, ``sh -c``), then
reads the arguments of a known set of tools (curl, wget, nc, ssh, scp, rsync, git, pip,
npm, cat and friends). It never runs anything and never raises.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import shlex
from typing import Final
from urllib.parse import urlsplit

__all__ = ["Contact", "ShellView", "parse_command"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class Contact:
    """One network destination a command contacts."""

    tool: str
    host: str | None
    port: int | None
    url: str | None = None
    method: str | None = None
    upload_files: list[str] = dataclasses.field(default_factory=list)
    """Local files whose bytes the command sends there."""
    upload_literal: str | None = None
    """A literal request body (``curl -d 'text'``)."""
    download: bool = False
    """The command fetches content from there (curl/wget without a body, pip, git clone...)."""
    note: str = ""


@dataclasses.dataclass(slots=True)
class ShellView:
    """Everything one command line shows."""

    reads: list[str] = dataclasses.field(default_factory=list)
    writes: list[str] = dataclasses.field(default_factory=list)
    contacts: list[Contact] = dataclasses.field(default_factory=list)
    pipe_to_shell: bool = False


_SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "|&", ";;", "\n"}
_REDIRECT_IN = {"<"}
_REDIRECT_OUT = {">", ">>", ">|", "&>", "&>>"}
_WRAPPERS = {"sudo", "env", "time", "nohup", "exec", "command", "builtin", "nice", "timeout", "stdbuf", "xargs"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "perl", "ruby", "node", "php"}
_READERS = {
    "cat",
    "head",
    "tail",
    "less",
    "more",
    "base64",
    "xxd",
    "od",
    "strings",
    "wc",
    "sort",
    "uniq",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "tac",
    "nl",
    "hexdump",
    "gzip",
    "bzip2",
    "xz",
    "zcat",
    "source",
    ".",
}
_PATTERN_READERS = {"grep", "egrep", "fgrep", "rg", "awk", "sed", "jq"}
_HOME_VAR = re.compile(r"^(\$HOME|\$\{HOME\})(?=/|$)")
_NUMERIC = re.compile(r"^[+-]?\d+[kKmMgG]?$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_HOSTLIKE = re.compile(
    r"^(?:[\w-]+@)?(?:[a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(?::\d+)?(?:/\S*)?$|^\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?:/\S*)?$|^localhost(?::\d+)?(?:/\S*)?$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ssh": 22, "git": 9418, "rsync": 873}

_CURL_VALUE_OPTS = {
    "-d",
    "--data",
    "--data-binary",
    "--data-raw",
    "--data-urlencode",
    "--data-ascii",
    "--json",
    "-F",
    "--form",
    "--form-string",
    "-T",
    "--upload-file",
    "-H",
    "--header",
    "-X",
    "--request",
    "-o",
    "--output",
    "-u",
    "--user",
    "-A",
    "--user-agent",
    "-e",
    "--referer",
    "-x",
    "--proxy",
    "-b",
    "--cookie",
    "-c",
    "--cookie-jar",
    "--url",
    "-K",
    "--config",
    "--connect-timeout",
    "-m",
    "--max-time",
    "--retry",
    "-w",
    "--write-out",
    "-E",
    "--cert",
    "--key",
    "--cacert",
    "-r",
    "--range",
    "-C",
    "--continue-at",
    "--resolve",
    "--interface",
    "-U",
    "--proxy-user",
    "--limit-rate",
    "-z",
    "--time-cond",
    "--max-filesize",
    "-Y",
    "-y",
    "--output-dir",
}
_CURL_DATA = {"-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "--data-ascii", "--json"}


def _norm_path(p: str) -> str:
    """``$HOME/x`` and ``${HOME}/x`` become ``~/x``; everything else stays as written."""
    return _HOME_VAR.sub("~", p)


_PLAIN_TOKENS: Final = re.compile(r"[;&|<>()]+|[^ \t\r\n;&|<>()]+")
"""What ``shlex`` (posix, whitespace_split, these punctuation chars) yields for a command with
no quotes and no backslashes: runs of punctuation, and runs of the rest between whitespace."""


def _tokens(command: str) -> list[str]:
    if "'" not in command and '"' not in command and "\\" not in command:
        return _PLAIN_TOKENS.findall(command)  # the common case, twenty times cheaper than shlex
    lex = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError:  # unbalanced quotes: a rough split is better than nothing
        return command.replace("|", " | ").replace(";", " ; ").split()


def _segments(tokens: list[str]) -> list[tuple[list[str], str]]:
    """Simple commands with the separator that follows each."""
    out: list[tuple[list[str], str]] = []
    cur: list[str] = []
    for t in tokens:
        if t in _SEPARATORS:
            out.append((cur, t))
            cur = []
        else:
            cur.append(t)
    out.append((cur, ""))
    return [(c, s) for c, s in out if c]


def _host_port(target: str, scheme_default: str = "http") -> tuple[str | None, int | None, str | None]:
    """(host, port, url) of a URL or ``host[:port][/path]`` argument."""
    url = target if _URL.match(target) else f"{scheme_default}://{target}"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None, None, None
    return host, port, url


def _is_target(tok: str) -> bool:
    return bool(_URL.match(tok) or _HOSTLIKE.match(tok))


def parse_command(command: str, *, depth: int = 0) -> ShellView:
    """Read one command line (never raises)."""
    view = ShellView()
    try:
        _parse(command, view, depth)
    except Exception:  # a parser for evidence must not stop an import
        log.debug("command line not parsed: %r", command[:200], exc_info=True)
    return view


def _parse(command: str, view: ShellView, depth: int) -> None:
    segs = _segments(_tokens(command))
    piped_reads: list[str] = []
    prev_sep = ""
    prev_download: Contact | None = None
    for argv, sep in segs:
        argv, redir_in, redir_out = _redirections(argv)
        view.reads.extend(redir_in)
        view.writes.extend(redir_out)
        stdin_files = list(redir_in) + (piped_reads if prev_sep in ("|", "|&") else [])
        argv = _strip_wrappers(argv)
        if not argv:
            prev_sep = sep
            continue
        name = argv[0].rsplit("/", 1)[-1]
        before = len(view.contacts)
        reads_before = len(view.reads)
        if name in _SHELLS and prev_sep in ("|", "|&") and prev_download is not None:
            view.pipe_to_shell = True
            prev_download.note = "piped into " + name
        if name in ("sh", "bash", "zsh", "dash") and "-c" in argv and depth < 3:
            i = argv.index("-c")
            if i + 1 < len(argv):
                inner = parse_command(argv[i + 1], depth=depth + 1)
                view.reads.extend(inner.reads)
                view.writes.extend(inner.writes)
                view.contacts.extend(inner.contacts)
                view.pipe_to_shell |= inner.pipe_to_shell
        elif name == "curl":
            _curl(argv, view, stdin_files)
        elif name == "wget":
            _wget(argv, view)
        elif name in ("nc", "ncat", "netcat", "telnet", "socat"):
            _nc(name, argv, view, stdin_files)
        elif name == "ssh":
            _ssh(argv, view, stdin_files)
        elif name in ("scp", "rsync", "sftp"):
            _scp(name, argv, view)
        elif name == "git":
            _git(argv, view)
        elif name in ("pip", "pip3", "uv", "pipx") or (name.startswith("python") and argv[1:3] == ["-m", "pip"]):
            _pip(argv, view)
        elif name in ("npm", "pnpm", "yarn", "npx", "bun"):
            _npm(name, argv, view)
        elif name in _READERS:
            view.reads.extend(_operands(argv[1:]))
        elif name in _PATTERN_READERS:
            ops = _operands(argv[1:])
            has_e = any(a in ("-e", "-f", "--regexp") for a in argv[1:])
            view.reads.extend(ops if has_e else ops[1:])
        elif name == "cp":
            ops = _operands(argv[1:])
            if len(ops) >= 2:
                view.reads.extend(ops[:-1])
                view.writes.append(ops[-1])
        elif name == "tee":
            view.writes.extend(_operands(argv[1:]))
        elif name in ("rm", "unlink", "shred"):
            pass
        new = view.contacts[before:]
        prev_download = next((c for c in new if c.download), None)
        piped_reads = view.reads[reads_before:] + (piped_reads if prev_sep in ("|", "|&") else [])
        if not new and not piped_reads:
            piped_reads = list(redir_in)
        prev_sep = sep
    view.reads[:] = _dedupe(_norm_path(p) for p in view.reads if _is_local_path(p))
    view.writes[:] = _dedupe(_norm_path(p) for p in view.writes if _is_local_path(p))
    for c in view.contacts:
        c.upload_files[:] = _dedupe(_norm_path(p) for p in c.upload_files if _is_local_path(p))


def _dedupe(items: object) -> list[str]:
    seen: dict[str, None] = {}
    for x in items:  # type: ignore[attr-defined]
        seen.setdefault(x, None)
    return list(seen)


def _is_local_path(p: str) -> bool:
    if not p or p in ("-", "/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr") or p.startswith("&"):
        return False
    return not _URL.match(p)


def _redirections(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    out: list[str] = []
    rin: list[str] = []
    rout: list[str] = []
    i = 0
    while i < len(argv):
        t = argv[i]
        if t in _REDIRECT_IN and i + 1 < len(argv):
            rin.append(argv[i + 1])
            i += 2
            continue
        if t in _REDIRECT_OUT and i + 1 < len(argv):
            if out and out[-1].isdigit():  # 2> file
                out.pop()
            rout.append(argv[i + 1])
            i += 2
            continue
        if t == ">" or t == "<":
            i += 1
            continue
        out.append(t)
        i += 1
    return out, rin, rout


def _strip_wrappers(argv: list[str]) -> list[str]:
    i = 0
    while i < len(argv):
        t = argv[i]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t):
            i += 1
        elif t in _WRAPPERS:
            i += 1
            while i < len(argv) and argv[i].startswith("-"):
                i += 1
            if t == "timeout" and i < len(argv) and _NUMERIC.match(argv[i].rstrip("s")):
                i += 1
        else:
            break
    return argv[i:]


def _operands(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-") and not _NUMERIC.match(a)]


def _opt_value(argv: list[str], i: int, opts: set[str]) -> tuple[str | None, str | None, int]:
    """(option, value, next index) when ``argv[i]`` is an option taking a value, else (None, None, i)."""
    t = argv[i]
    if t.startswith("--") and "=" in t:
        o, v = t.split("=", 1)
        if o in opts:
            return o, v, i + 1
    if t in opts:
        return t, argv[i + 1] if i + 1 < len(argv) else None, i + 2
    if len(t) > 2 and t[0] == "-" and t[1] != "-" and t[:2] in opts:
        return t[:2], t[2:], i + 1
    return None, None, i


def _curl(argv: list[str], view: ShellView, stdin_files: list[str]) -> None:
    urls: list[str] = []
    files: list[str] = []
    literal: list[str] = []
    method: str | None = None
    upload = False
    i = 1
    while i < len(argv):
        o, v, j = _opt_value(argv, i, _CURL_VALUE_OPTS)
        if o is None:
            t = argv[i]
            if not t.startswith("-") and _is_target(t):
                urls.append(t)
            i += 1
            continue
        i = j
        if v is None:
            continue
        if o in _CURL_DATA:
            upload = True
            body = (
                v.split("@", 1)[1] if o == "--data-urlencode" and "@" in v and "=" not in v.split("@", 1)[0] else None
            )
            if v.startswith("@"):
                body = v[1:]
            if body is not None:
                files.extend(stdin_files if body == "-" else [body])
            else:
                literal.append(v)
        elif o in ("-F", "--form"):
            upload = True
            m = re.match(r"^[^=]*=[@<]([^;]+)", v)
            if m:
                files.append(m.group(1))
            else:
                literal.append(v)
        elif o == "--form-string":
            upload = True
            literal.append(v)
        elif o in ("-T", "--upload-file"):
            upload = True
            method = method or "PUT"
            files.extend(stdin_files if v == "-" else [v])
        elif o in ("-X", "--request"):
            method = v.upper()
        elif o in ("-o", "--output"):
            view.writes.append(v)
        elif o == "--url":
            urls.append(v)
        elif o in ("-E", "--cert", "--key", "-K", "--config"):
            view.reads.append(v)
    view.reads.extend(files)
    if upload and not method:
        method = "POST"
    for u in urls or []:
        host, port, url = _host_port(u)
        if not host:
            continue
        view.contacts.append(
            Contact(
                "curl", host, port, url, method or "GET", list(files), "&".join(literal) or None, download=not upload
            )
        )


def _wget(argv: list[str], view: ShellView) -> None:
    files: list[str] = []
    literal: str | None = None
    urls: list[str] = []
    i = 1
    opts = {
        "--post-file",
        "--post-data",
        "-O",
        "--output-document",
        "--body-file",
        "--body-data",
        "--method",
        "-o",
        "-U",
        "--header",
        "-P",
    }
    method: str | None = None
    while i < len(argv):
        o, v, j = _opt_value(argv, i, opts)
        if o is None:
            t = argv[i]
            if t.startswith("-qO") or t.startswith("-O") and len(t) > 2:
                v = t.split("O", 1)[1]
                if v not in ("-", ""):
                    view.writes.append(v)
            elif not t.startswith("-") and _is_target(t):
                urls.append(t)
            i += 1
            continue
        i = j
        if v is None:
            continue
        if o in ("--post-file", "--body-file"):
            files.append(v)
            method = method or "POST"
        elif o in ("--post-data", "--body-data"):
            literal = v
            method = method or "POST"
        elif o in ("-O", "--output-document") and v != "-":
            view.writes.append(v)
        elif o == "--method":
            method = v.upper()
    view.reads.extend(files)
    for u in urls:
        host, port, url = _host_port(u)
        if host:
            view.contacts.append(
                Contact("wget", host, port, url, method or "GET", list(files), literal, download=not (files or literal))
            )


def _nc(name: str, argv: list[str], view: ShellView, stdin_files: list[str]) -> None:
    ops = [a for a in argv[1:] if not a.startswith("-")]
    if name == "socat":
        for a in ops:
            m = re.match(r"(?i)^(?:tcp|tcp4|tcp6|udp|openssl)[^:]*:([^:,]+):(\d+)", a)
            if m:
                view.contacts.append(Contact(name, m.group(1), int(m.group(2)), None, None, list(stdin_files)))
        return
    if not ops:
        return
    host = ops[0]
    port = int(ops[1]) if len(ops) > 1 and ops[1].isdigit() else None
    if "-l" in argv:
        return
    view.contacts.append(Contact(name, host, port, None, None, list(stdin_files), download=not stdin_files))


def _ssh(argv: list[str], view: ShellView, stdin_files: list[str]) -> None:
    opts = {"-p", "-i", "-o", "-l", "-F", "-J", "-L", "-R", "-D", "-b", "-c", "-E", "-m", "-S", "-W", "-w"}
    port: int | None = 22
    i = 1
    host: str | None = None
    while i < len(argv):
        o, v, j = _opt_value(argv, i, opts)
        if o is not None:
            if o == "-p" and v and v.isdigit():
                port = int(v)
            if o == "-i" and v:
                view.reads.append(v)
            i = j
            continue
        if argv[i].startswith("-"):
            i += 1
            continue
        host = argv[i].split("@", 1)[-1]
        break
    if host:
        view.contacts.append(Contact("ssh", host, port, None, None, list(stdin_files)))


def _remote(arg: str) -> tuple[str, str] | None:
    """``[user@]host:path`` or ``rsync://host/path`` -> (host, path)."""
    if arg.startswith(("rsync://", "sftp://", "scp://")):
        parts = urlsplit(arg)
        return (parts.hostname or "", parts.path) if parts.hostname else None
    m = re.match(r"^(?:[^@/:\s]+@)?([^/:\s]+):(.*)$", arg)
    if m and not arg.startswith("/") and not arg.startswith("."):
        return m.group(1), m.group(2)
    return None


def _scp(name: str, argv: list[str], view: ShellView) -> None:
    opts = {"-P", "-i", "-o", "-F", "-l", "-S", "-e", "--rsh", "-c", "-J", "--port", "--exclude", "--include"}
    port: int | None = 873 if name == "rsync" else 22
    ops: list[str] = []
    i = 1
    while i < len(argv):
        o, v, j = _opt_value(argv, i, opts)
        if o is not None:
            if o in ("-P", "--port") and v and v.isdigit():
                port = int(v)
            if o == "-i" and v:
                view.reads.append(v)
            if o in ("-e", "--rsh"):
                port = 22
            i = j
            continue
        if not argv[i].startswith("-"):
            ops.append(argv[i])
        i += 1
    if len(ops) < 2:
        return
    srcs, dst = ops[:-1], ops[-1]
    rd = _remote(dst)
    if rd:
        local = [s for s in srcs if not _remote(s)]
        view.reads.extend(local)
        view.contacts.append(Contact(name, rd[0], port, None, None, local))
        return
    for s in srcs:
        rs = _remote(s)
        if rs:
            view.contacts.append(Contact(name, rs[0], port, None, None, download=True))
            view.writes.append(dst)


def _git(argv: list[str], view: ShellView) -> None:
    ops = [a for a in argv[1:] if not a.startswith("-")]
    if not ops:
        return
    sub = ops[0]
    if sub not in ("push", "clone", "fetch", "pull", "ls-remote"):
        return
    target = ops[1] if len(ops) > 1 else "origin"
    rem = _remote(target) if not _URL.match(target) else None
    if _URL.match(target):
        host, port, url = _host_port(target)
    elif rem:
        host, port, url = rem[0], 22, None
    else:
        host, port, url = None, None, None
    c = Contact("git", host, port, url, sub, download=sub != "push", note="" if host else f"remote {target}")
    view.contacts.append(c)


_PIP_DEFAULT_INDEX = "pip-default-index"
"""Destination name for ``pip install`` without ``--index-url``: the agent's configured index."""
_NPM_DEFAULT_REGISTRY = "npm-default-registry"
"""Destination name for ``npm install`` and friends: the agent's configured registry."""


def _pip(argv: list[str], view: ShellView) -> None:
    if "install" not in argv and "download" not in argv:
        return
    index: str | None = None  # pip's configured default index: not knowable from the command line
    for i, a in enumerate(argv):
        if a in ("-i", "--index-url", "--extra-index-url") and i + 1 < len(argv):
            index = argv[i + 1]
        elif a.startswith("--index-url="):
            index = a.split("=", 1)[1]
    pkgs = [a for a in argv[argv.index("install") + 1 :] if not a.startswith("-")] if "install" in argv else []
    for p in pkgs:
        if _URL.match(p):
            host, port, url = _host_port(p)
            view.contacts.append(Contact("pip", host, port, url, "GET", download=True, note="package from URL"))
    host, port, url = _host_port(index) if index else (_PIP_DEFAULT_INDEX, 443, None)
    view.contacts.append(Contact("pip", host, port, url, "GET", download=True, note="install " + " ".join(pkgs)[:200]))


def _npm(name: str, argv: list[str], view: ShellView) -> None:
    verbs = {"install", "i", "add", "ci", "exec", "x", "dlx", "publish"}
    if name != "npx" and not (set(argv[1:3]) & verbs):
        return
    host, port, url = _NPM_DEFAULT_REGISTRY, 443, None
    pkgs = [a for a in argv[2:] if not a.startswith("-")]
    publish = "publish" in argv[1:3]
    view.contacts.append(
        Contact(name, host, port, url, "PUT" if publish else "GET", download=not publish, note=" ".join(pkgs)[:200])
    )
