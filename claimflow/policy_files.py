"""Finding and loading the policy files in the policy directory."""

import re
from pathlib import Path

from models.policy import Policy, PolicyError, parse_policy


_loaded: dict[Path, tuple[tuple[int, int], Policy]] = {}  # path -> ((mtime, size), policy)


def load_policy_file(path: Path) -> Policy:
    """The policy in `path`, parsed and checked once per version of the file (the web UI
    loads a claim's policy on every page)."""
    try:
        stat = path.stat()
    except OSError:
        return _read_policy_file(path)  # says why it cannot be read
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(path)
    if cached is None or cached[0] != version:
        _loaded[path] = cached = (version, _read_policy_file(path))
    return cached[1].model_copy(deep=True)


def _read_policy_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyError(str(path), [("(file)", err.strerror or str(err))]) from None
    except UnicodeDecodeError as err:
        raise PolicyError(str(path), [("(file)", f"not UTF-8 text: {err.reason} at byte {err.start}")]) from None
    policy = parse_policy(text, str(path))
    if policy.name != path.stem:
        raise PolicyError(str(path), [("name", f"must match the file name {path.stem!r}, not {policy.name!r}")])
    from claimflow.calendars import holiday_calendar_problem  # the holidays library: only when a policy is loaded

    problem = holiday_calendar_problem(policy.holiday_country, policy.holiday_subdivision)
    if problem is not None:
        raise PolicyError(str(path), [problem])
    return policy


def policy_names(policy_dir: Path) -> list[str]:
    return sorted(p.stem for p in policy_dir.glob("*.toml"))


def load_policy(policy_dir: Path, name: str) -> Policy:
    path = policy_dir / f"{name}.toml"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not path.exists():
        known = ", ".join(policy_names(policy_dir)) or "none"
        raise PolicyError(str(path), [("(file)", f"no policy named {name!r}; known: {known}")])
    return load_policy_file(path)
