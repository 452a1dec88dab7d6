"""The OpenClaw plugin (collector/openclaw-plugin/, shipped in the wheel as
clawtrace/_openclaw_plugin) and its installation into an OpenClaw state dir.

`install_plugin` copies the plugin's files into ``STATE/clawtrace-plugin/``, writes the
endpoint next to them (``clawtrace-plugin.json``, read by the plugin at load) and adds to the
OpenClaw config (plain JSON only; JSON5 is never rewritten, the keys to add are reported):

    plugins.load.paths                                  += [STATE/clawtrace-plugin]
    plugins.entries.clawtrace.enabled                    = true
    plugins.entries.clawtrace.hooks.allowConversationAccess = true
    plugins.entries.clawtrace.config.policy              = {enabled, allow, strict}   (only when asked)

The policy gate (``collector/openclaw-plugin/policy.js``) is off unless a ``Policy`` is
given; installing again without one leaves whatever policy the config already holds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clawtrace.errors import ClawtraceError

PLUGIN_ID = "clawtrace"
PLUGIN_FILES = ("index.js", "policy.js", "drain.js", "openclaw.plugin.json", "package.json")
SETTINGS_FILE = "clawtrace-plugin.json"
INSTALL_DIR = "clawtrace-plugin"
DEFAULT_ENDPOINT = "http://127.0.0.1:4318/v1/traces"


class PluginInstallError(ClawtraceError):
    """The plugin could not be installed (missing files, a config that cannot be edited)."""


def plugin_source() -> Path:
    """The directory holding the plugin's files: in the wheel, else in the source tree."""
    here = Path(__file__).resolve().parent
    for d in (here / "_openclaw_plugin", here.parent / "collector" / "openclaw-plugin"):
        if (d / "index.js").is_file():
            return d
    raise PluginInstallError("the OpenClaw plugin files are missing from this clawtrace installation")


def default_state_dir() -> Path:
    env = os.environ.get("OPENCLAW_STATE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".openclaw"


def config_path_for(state_dir: Path) -> Path:
    env = os.environ.get("OPENCLAW_CONFIG_PATH")
    return Path(env).expanduser() if env else state_dir / "openclaw.json"


_HOST_PATTERN = re.compile(
    r"^(\*|channel:[a-z0-9_.*-]+|\[[0-9a-f:.]+\](:(\d+|\*))?|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?(:(\d+|\*))?)$"
)


def check_host_pattern(pattern: str) -> str:
    """A policy allow pattern, normalised (lower case); raises PluginInstallError when it is not one.

    The syntax policy.js accepts: ``*``, ``host``, ``host:port``, ``*.domain`` (subdomains),
    ``[::1]:8080``, ``channel:<name>`` (the message tool), ``web-search``.
    """
    p = pattern.strip().lower()
    if not _HOST_PATTERN.match(p) or p.endswith("*."):
        raise PluginInstallError(
            f"policy allow pattern {pattern!r} is not a host pattern: use '*', 'host', 'host:port', "
            "'*.domain', '[::1]:8080', 'channel:NAME' or 'web-search' (no scheme, no path)"
        )
    return p


@dataclasses.dataclass(frozen=True)
class Policy:
    """The plugin's egress policy gate settings (``plugins.entries.clawtrace.config.policy``)."""

    enabled: bool = True
    allow: tuple[str, ...] = ()
    strict: bool = False
    monitor: bool = False
    """Decide and record, never block (would-be blocks are recorded with verdict ``warn``)."""

    def as_config(self) -> dict[str, Any]:
        """The JSON the plugin reads."""
        if not self.enabled:
            return {"enabled": False}
        out: dict[str, Any] = {"enabled": True, "allow": list(self.allow), "strict": self.strict}
        if self.monitor:
            out["mode"] = "monitor"
        return out


def make_policy(
    allow: Sequence[str] = (), *, strict: bool = False, off: bool = False, monitor: bool = False
) -> Policy | None:
    """The Policy that install options ask for, or None when they ask for none (keep the config's)."""
    if off:
        if allow or strict or monitor:
            raise PluginInstallError(
                "--policy-off cannot be combined with --policy-allow, --policy-strict or --policy-monitor"
            )
        return Policy(enabled=False)
    if not allow and not strict and not monitor:
        return None
    seen: dict[str, None] = {}
    for a in allow:
        seen.setdefault(check_host_pattern(a), None)
    return Policy(allow=tuple(seen), strict=strict, monitor=monitor)


@dataclasses.dataclass
class Installed:
    plugin_dir: Path
    config_path: Path
    config_changed: bool
    endpoint: str
    policy: dict[str, Any] | None = None
    """The gate's settings now in the config (None: off)."""


def config_keys(plugin_dir: Path, policy: Policy | None = None) -> dict[str, Any]:
    """The config keys the plugin needs, as a JSON fragment."""
    entry: dict[str, Any] = {"enabled": True, "hooks": {"allowConversationAccess": True}}
    if policy is not None:
        entry["config"] = {"policy": policy.as_config()}
    return {"plugins": {"load": {"paths": [str(plugin_dir)]}, "entries": {PLUGIN_ID: entry}}}


def _obj(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    v = parent.setdefault(key, {})
    if not isinstance(v, dict):
        raise PluginInstallError(f"{where}.{key} in the OpenClaw config is not an object")
    return v


def merge_config(cfg: dict[str, Any], plugin_dir: Path, policy: Policy | None = None) -> bool:
    """Add the plugin's keys (and ``policy`` when given) to a parsed config in place; True when something changed."""
    before = json.dumps(cfg, sort_keys=True)
    plugins = _obj(cfg, "plugins", "")
    load = _obj(plugins, "load", "plugins")
    paths = load.setdefault("paths", [])
    if not isinstance(paths, list):
        raise PluginInstallError("plugins.load.paths in the OpenClaw config is not a list")
    if str(plugin_dir) not in paths:
        paths.append(str(plugin_dir))
    entry = _obj(_obj(plugins, "entries", "plugins"), PLUGIN_ID, "plugins.entries")
    entry["enabled"] = True
    _obj(entry, "hooks", f"plugins.entries.{PLUGIN_ID}")["allowConversationAccess"] = True
    if policy is not None:
        _obj(entry, "config", f"plugins.entries.{PLUGIN_ID}")["policy"] = policy.as_config()
    allow = plugins.get("allow")
    if isinstance(allow, list) and PLUGIN_ID not in allow:
        allow.append(PLUGIN_ID)  # an exclusive allowlist would otherwise keep the plugin out
    return json.dumps(cfg, sort_keys=True) != before


def install_plugin(
    state_dir: Path, *, endpoint: str = DEFAULT_ENDPOINT, config_path: Path | None = None, policy: Policy | None = None
) -> Installed:
    """Copy the plugin into state_dir and enable it in the config (see the module doc).

    ``policy`` sets the gate's settings; None keeps whatever the config has (off by default).
    """
    state_dir = state_dir.expanduser().resolve()
    cfg_path = config_path or config_path_for(state_dir)
    src = plugin_source()
    dest = state_dir / INSTALL_DIR
    # Read the config before touching anything: a JSON5 config stops the install unchanged.
    cfg: dict[str, Any] = {}
    if cfg_path.exists():
        text = cfg_path.read_text(encoding="utf-8")
        if text.strip():
            try:
                loaded = json.loads(text)
            except ValueError:
                frag = json.dumps(config_keys(dest, policy), indent=2)
                raise PluginInstallError(
                    f"{cfg_path} is JSON5 (not plain JSON), which clawtrace does not rewrite. "
                    f"The plugin files are not installed yet; add these keys to the config by hand "
                    f"(merge with what is there, keep any plugins.allow list complete), then run this again "
                    f"or copy {src} to {dest}:\n{frag}"
                ) from None
            if not isinstance(loaded, dict):
                raise PluginInstallError(f"{cfg_path} does not hold a JSON object")
            cfg = loaded
    dest.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_FILES:
        shutil.copyfile(src / name, dest / name)
    (dest / SETTINGS_FILE).write_text(json.dumps({"endpoint": endpoint}, indent=2) + "\n", encoding="utf-8")
    changed = merge_config(cfg, dest, policy)
    if changed or not cfg_path.exists():
        cfg_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = cfg_path.with_name(cfg_path.name + ".clawtrace-tmp")
        tmp.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, cfg_path)
    got = cfg["plugins"]["entries"][PLUGIN_ID].get("config", {})
    now = got.get("policy") if isinstance(got, dict) else None
    active = now if isinstance(now, dict) and now.get("enabled", True) is not False else None
    return Installed(dest, cfg_path, changed, endpoint, active)
