"""Job diffs as Nomad renders them (``JobDiff`` / ``TaskGroupDiff`` / ``TaskDiff``).

Values are flattened to strings the way Nomad's flatmap does (``true``/``false``, decimal
integers, ``Meta[key]``, ``args[0]``); fields and objects are sorted by name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["job_diff"]

_JOB_FIELDS = ("AllAtOnce", "ConsulNamespace", "DispatchIdempotencyToken", "Dispatched", "Name",
               "Namespace", "NodePool", "ParentID", "Priority", "Region", "Stop", "Type",
               "VaultNamespace")
_TG_FIELDS = ("Count", "MaxClientDisconnect", "PreventRescheduleOnLost", "ShutdownDelay",
              "StopAfterClientDisconnect")
_TG_OBJECTS = ("Disconnect", "EphemeralDisk", "Migrate", "ReschedulePolicy", "RestartPolicy",
               "Scaling", "Update")
_TASK_FIELDS = ("Driver", "KillSignal", "KillTimeout", "Kind", "Leader", "ShutdownDelay", "User")
_TASK_OBJECTS = ("DispatchPayload", "Lifecycle", "LogConfig", "RestartPolicy", "Vault")
_SET_OBJECTS = {"Constraints": "Constraint", "Affinities": "Affinity", "Spreads": "Spread",
                "Networks": "Network", "Services": "Service", "Artifacts": "Artifact",
                "Templates": "Template", "Devices": "Device"}


def _render(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}[{k}]" if prefix else str(k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}[{i}]", out)
    elif value is not None:
        out[prefix] = _render(value)


def _field(old: str, new: str, name: str, contextual: bool) -> dict[str, Any] | None:
    if old == new:
        if not contextual:
            return None
        return {"Type": "None", "Name": name, "Old": old, "New": new, "Annotations": None}
    kind = "Added" if old == "" else "Deleted" if new == "" else "Edited"
    return {"Type": kind, "Name": name, "Old": old, "New": new, "Annotations": None}


def _fields(old: dict[str, str], new: dict[str, str], contextual: bool) -> list[dict[str, Any]]:
    out = []
    for name in sorted(set(old) | set(new)):
        d = _field(old.get(name, ""), new.get(name, ""), name, contextual)
        if d:
            out.append(d)
    return out


def _prims(obj: dict[str, Any] | None, names: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    if obj is None:
        return out
    for n in names:
        if obj.get(n) is not None and not isinstance(obj.get(n), (dict, list)):
            out[n] = _render(obj[n])
    for mapname in ("Meta", "Env"):
        for k, v in (obj.get(mapname) or {}).items() if mapname in names else ():
            out[f"{mapname}[{k}]"] = _render(v)
    return out


def _obj_type(old: Any, new: Any, changed: bool) -> str:
    if old is None:
        return "Added"
    if new is None:
        return "Deleted"
    return "Edited" if changed else "None"


def _object(name: str, old: Any, new: Any, contextual: bool) -> dict[str, Any] | None:
    """Diff of one nested object by flattening its primitive leaves."""
    if old is None and new is None:
        return None
    fo: dict[str, str] = {}
    fn: dict[str, str] = {}
    _flatten(old, "", fo)
    _flatten(new, "", fn)
    fields = _fields(fo, fn, contextual)
    changed = any(f["Type"] != "None" for f in fields)
    if not changed and old is not None and new is not None and not contextual:
        return None
    return {"Type": _obj_type(old, new, changed), "Name": name, "Fields": fields or None,
            "Objects": None}


def _set_objects(name: str, old: list[Any] | None, new: list[Any] | None,
                 contextual: bool) -> list[dict[str, Any]]:
    """Nomad's set diff: items only in old are Deleted, items only in new are Added."""
    def key(x: Any) -> str:
        flat: dict[str, str] = {}
        _flatten(x, "", flat)
        return repr(sorted(flat.items()))
    old, new = old or [], new or []
    okeys, nkeys = {key(x) for x in old}, {key(x) for x in new}
    out = [d for x in old if key(x) not in nkeys if (d := _object(name, x, None, contextual))]
    out += [d for x in new if key(x) not in okeys if (d := _object(name, None, x, contextual))]
    return out


def _string_set(name: str, old: list[str] | None, new: list[str] | None,
                contextual: bool) -> dict[str, Any] | None:
    o, n = set(old or []), set(new or [])
    fields = [{"Type": "Deleted", "Name": name, "Old": v, "New": "", "Annotations": None}
              for v in sorted(o - n)]
    fields += [{"Type": "Added", "Name": name, "Old": "", "New": v, "Annotations": None}
               for v in sorted(n - o)]
    if not fields:
        if not contextual or not (o or n):
            return None
        fields = [{"Type": "None", "Name": name, "Old": v, "New": v, "Annotations": None}
                  for v in sorted(n)]
    kind = "Added" if not o else "Deleted" if not n else "Edited"
    return {"Type": kind if any(f["Type"] != "None" for f in fields) else "None", "Name": name,
            "Fields": fields, "Objects": None}


def _objects_of(old: dict[str, Any] | None, new: dict[str, Any] | None, singles: tuple[str, ...],
                contextual: bool) -> list[dict[str, Any]]:
    o, n = old or {}, new or {}
    objs: list[dict[str, Any]] = []
    for attr in singles:
        d = _object(attr, o.get(attr), n.get(attr), contextual)
        if d:
            objs.append(d)
    for attr, label in _SET_OBJECTS.items():
        if attr in o or attr in n:
            objs += _set_objects(label, o.get(attr), n.get(attr), contextual)
    return objs


def _task_diff(old: dict[str, Any] | None, new: dict[str, Any] | None,
               contextual: bool) -> dict[str, Any] | None:
    names = _TASK_FIELDS + ("Meta", "Env")
    fields = _fields(_prims(old, names), _prims(new, names), contextual)
    objects = _objects_of(old, new, _TASK_OBJECTS, contextual)
    cfg = _object("Config", (old or {}).get("Config"), (new or {}).get("Config"), contextual)
    if cfg:
        objects.append(cfg)
    ro, rn = (old or {}).get("Resources"), (new or {}).get("Resources")
    res = _object("Resources", _scalar_part(ro), _scalar_part(rn), contextual)
    sub = _objects_of(ro, rn, (), contextual)
    if res or sub:
        res = res or {"Type": "Edited", "Name": "Resources", "Fields": None, "Objects": None}
        res["Objects"] = sorted(sub, key=lambda x: x["Name"]) or None
        if res["Type"] == "None" and sub:
            res["Type"] = "Edited"
        objects.append(res)
    objects.sort(key=lambda x: x["Name"])
    changed = any(f["Type"] != "None" for f in fields) or any(
        x["Type"] != "None" for x in objects)
    kind = "Added" if old is None else "Deleted" if new is None else (
        "Edited" if changed else "None")
    if kind == "None" and not contextual:
        return None
    return {"Type": kind, "Name": (new or old or {}).get("Name", ""), "Fields": fields or None,
            "Objects": objects or None, "Annotations": None}


def _scalar_part(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {k: v for k, v in obj.items() if not isinstance(v, (dict, list))}


def _by_name(items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {x["Name"]: x for x in items or []}


def _group_diff(old: dict[str, Any] | None, new: dict[str, Any] | None,
                contextual: bool) -> dict[str, Any] | None:
    names = _TG_FIELDS + ("Meta",)
    fields = _fields(_prims(old, names), _prims(new, names), contextual)
    objects = sorted(_objects_of(old, new, _TG_OBJECTS, contextual), key=lambda x: x["Name"])
    ot, nt = _by_name((old or {}).get("Tasks")), _by_name((new or {}).get("Tasks"))
    tasks = [d for name in sorted(set(ot) | set(nt))
             if (d := _task_diff(ot.get(name), nt.get(name), contextual))]
    changed = (any(f["Type"] != "None" for f in fields)
               or any(x["Type"] != "None" for x in objects + tasks))
    kind = "Added" if old is None else "Deleted" if new is None else (
        "Edited" if changed else "None")
    if kind == "None" and not contextual:
        return None
    return {"Type": kind, "Name": (new or old or {}).get("Name", ""), "Fields": fields or None,
            "Objects": objects or None, "Tasks": tasks or None, "Updates": None}


def job_diff(old: dict[str, Any] | None, new: dict[str, Any], *,
             contextual: bool = False) -> dict[str, Any]:
    """Diff two full jobs the way ``GET /v1/job/:id/versions?diffs=true`` and plan render it.

    Parameters
    ----------
    old:
        The previous version, or ``None`` for a new job (everything ``Added``).
    new:
        The new version.
    contextual:
        Also report unchanged fields (``Type: "None"``), as Nomad's contextual diff does.

    Returns
    -------
    dict
        ``{Type, ID, Fields, Objects, TaskGroups}``; empty lists are ``null``.
    """
    fields = _fields(_prims(old, _JOB_FIELDS + ("Meta",)), _prims(new, _JOB_FIELDS + ("Meta",)),
                     contextual)
    objects: list[dict[str, Any]] = []
    dcs = _string_set("Datacenters", (old or {}).get("Datacenters"), new.get("Datacenters"),
                      contextual)
    if dcs:
        objects.append(dcs)
    objects += _objects_of(old, new, ("ParameterizedJob", "Periodic", "Multiregion"), contextual)
    objects = [o for o in objects if o["Name"] not in ("Network", "Service")]
    objects.sort(key=lambda x: x["Name"])
    og, ng = _by_name((old or {}).get("TaskGroups")), _by_name(new.get("TaskGroups"))
    groups = [d for name in sorted(set(og) | set(ng))
              if (d := _group_diff(og.get(name), ng.get(name), contextual))]
    changed = (any(f["Type"] != "None" for f in fields)
               or any(x["Type"] != "None" for x in objects + groups))
    kind = "Added" if old is None else ("Edited" if changed else "None")
    return {"Type": kind, "ID": new["ID"], "Fields": fields or None, "Objects": objects or None,
            "TaskGroups": groups or None}
