"""HCL2 jobspecs → the API ``Job`` JSON, as ``POST /v1/jobs/parse`` answers (Nomad's ``jobspec2``).

>>> job = parse_jobspec('job "web" {\\n  group "g" {\\n    task "t" { driver = "docker" }\\n  }\\n}\\n')
>>> job["ID"], job["TaskGroups"][0]["Tasks"][0]["Driver"], job["Priority"]
('web', 'docker', None)
>>> canonicalize(job)["Priority"]
50

The text is read with python-hcl2 (the grammar of HashiCorp's HCL2 native syntax), then decoded
block by block into the ``api`` package's structs as ``jobspec2`` decodes them: every field of
``api.Job``, ``api.TaskGroup`` and ``api.Task`` appears, unset pointer fields as ``null``; the
job label gives ``ID`` and ``Name``; durations (``"30s"``) become nanoseconds; ``constraint`` and
``affinity`` shorthands (``distinct_hosts``, ``regexp``, ``version``, ...) set ``Operand``;
``port`` blocks with ``static`` move to ``ReservedPorts``; templates get ``jobspec2``'s
defaults. ``variable`` blocks, ``locals``, ``var.*`` / ``local.*`` references, string
interpolation and a small set of HCL functions are evaluated; interpolations Nomad resolves at
run time (``${attr.*}``, ``${node.*}``, ``${meta.*}``, ``${NOMAD_*}``, ``${env[...]}``) are kept
as text. :func:`canonicalize` applies ``api.Job.Canonicalize`` (``Canonicalize: true``).

Errors are :class:`JobspecError`, worded as HCL diagnostics
(``input.hcl:<line>,<col>-<col>: <summary>; <detail>``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["JobspecError", "parse_jobspec", "canonicalize"]

FILENAME = "input.hcl"
_S = 1_000_000_000


class JobspecError(ValueError):
    """A jobspec that does not parse or decode; the text is an HCL diagnostic."""


def _diag(summary: str, detail: str, line: int = 1, col: int = 1) -> JobspecError:
    return JobspecError(f"{FILENAME}:{line},{col}-{col + 1}: {summary}; {detail}")


# -- field tables: (hcl name, Go field, kind) -------------------------------------------------
# Kinds: "s"/"*s" string, "i"/"*i" int, "b"/"*b" bool, "d"/"*d" duration (ns), "ls" []string,
# "ms" map[string]string (block or attribute), "any" map[string]any (config), "*<Struct>" one
# block, "[]<Struct>" repeated blocks. A leading "*" means a pointer (null when unset); plain
# kinds have Go's zero value. Go fields without an HCL name are set by the server (null/zero).
Field = tuple[str, str, str]

_STRUCTS: dict[str, list[Field]] = {
    "Job": [
        ("region", "Region", "*s"), ("namespace", "Namespace", "*s"), ("id", "ID", "*s"),
        ("name", "Name", "*s"), ("type", "Type", "*s"), ("priority", "Priority", "*i"),
        ("all_at_once", "AllAtOnce", "*b"), ("datacenters", "Datacenters", "ls"),
        ("node_pool", "NodePool", "*s"), ("constraint", "Constraints", "[]Constraint"),
        ("affinity", "Affinities", "[]Affinity"), ("group", "TaskGroups", "[]TaskGroup"),
        ("update", "Update", "*UpdateStrategy"), ("multiregion", "Multiregion", "*any"),
        ("spread", "Spreads", "[]Spread"), ("periodic", "Periodic", "*PeriodicConfig"),
        ("parameterized", "ParameterizedJob", "*ParameterizedJobConfig"),
        ("reschedule", "Reschedule", "*ReschedulePolicy"), ("migrate", "Migrate", "*MigrateStrategy"),
        ("meta", "Meta", "ms"), ("ui", "UI", "*JobUIConfig"),
        ("", "Stop", "*b"), ("", "ParentID", "*s"), ("", "Dispatched", "b"),
        ("", "DispatchIdempotencyToken", "*s"), ("", "Payload", "*any"), ("", "ConsulNamespace", "*s"),
        ("", "VaultNamespace", "*s"), ("", "NomadTokenID", "*s"), ("", "Status", "*s"),
        ("", "StatusDescription", "*s"), ("", "Stable", "*b"), ("", "Version", "*i"),
        ("", "SubmitTime", "*i"), ("", "CreateIndex", "*i"), ("", "ModifyIndex", "*i"),
        ("", "JobModifyIndex", "*i"), ("", "VersionTag", "*any"),
    ],
    "TaskGroup": [
        ("", "Name", "*s"), ("count", "Count", "*i"), ("constraint", "Constraints", "[]Constraint"),
        ("affinity", "Affinities", "[]Affinity"), ("task", "Tasks", "[]Task"), ("spread", "Spreads", "[]Spread"),
        ("volume", "Volumes", "{}VolumeRequest"), ("restart", "RestartPolicy", "*RestartPolicy"),
        ("disconnect", "Disconnect", "*DisconnectStrategy"), ("reschedule", "ReschedulePolicy", "*ReschedulePolicy"),
        ("ephemeral_disk", "EphemeralDisk", "*EphemeralDisk"), ("update", "Update", "*UpdateStrategy"),
        ("migrate", "Migrate", "*MigrateStrategy"), ("network", "Networks", "[]NetworkResource"),
        ("meta", "Meta", "ms"), ("service", "Services", "[]Service"), ("shutdown_delay", "ShutdownDelay", "*d"),
        ("max_run_duration", "MaxRunDuration", "*d"),
        ("stop_after_client_disconnect", "StopAfterClientDisconnect", "*d"),
        ("max_client_disconnect", "MaxClientDisconnect", "*d"), ("scaling", "Scaling", "*ScalingPolicy"),
        ("consul", "Consul", "*any"), ("prevent_reschedule_on_lost", "PreventRescheduleOnLost", "*b"),
    ],
    "Task": [
        ("", "Name", "s"), ("driver", "Driver", "s"), ("user", "User", "s"),
        ("lifecycle", "Lifecycle", "*TaskLifecycle"), ("config", "Config", "any"),
        ("constraint", "Constraints", "[]Constraint"), ("affinity", "Affinities", "[]Affinity"),
        ("env", "Env", "ms"), ("service", "Services", "[]Service"), ("resources", "Resources", "*Resources"),
        ("restart", "RestartPolicy", "*RestartPolicy"), ("meta", "Meta", "ms"), ("kill_timeout", "KillTimeout", "*d"),
        ("logs", "LogConfig", "*LogConfig"), ("artifact", "Artifacts", "[]TaskArtifact"), ("vault", "Vault", "*any"),
        ("consul", "Consul", "*any"), ("template", "Templates", "[]Template"),
        ("dispatch_payload", "DispatchPayload", "*DispatchPayloadConfig"),
        ("volume_mount", "VolumeMounts", "[]VolumeMount"), ("csi_plugin", "CSIPluginConfig", "*any"),
        ("leader", "Leader", "b"), ("shutdown_delay", "ShutdownDelay", "d"), ("kill_signal", "KillSignal", "s"),
        ("kind", "Kind", "s"), ("scaling", "ScalingPolicies", "[]ScalingPolicy"), ("secret", "Secrets", "[]any"),
        ("", "Identity", "*any"), ("identity", "Identities", "[]any"), ("action", "Actions", "[]any"),
        ("schedule", "Schedule", "*any"),
    ],
    "Constraint": [("attribute", "LTarget", "s"), ("value", "RTarget", "s"), ("operator", "Operand", "s")],
    "Affinity": [("attribute", "LTarget", "s"), ("value", "RTarget", "s"), ("operator", "Operand", "s"),
                 ("weight", "Weight", "*i")],
    "Spread": [("attribute", "Attribute", "s"), ("weight", "Weight", "*i"),
               ("target", "SpreadTarget", "[]SpreadTarget")],
    "SpreadTarget": [("", "Value", "s"), ("percent", "Percent", "i")],
    "UpdateStrategy": [
        ("stagger", "Stagger", "*d"), ("max_parallel", "MaxParallel", "*i"), ("health_check", "HealthCheck", "*s"),
        ("min_healthy_time", "MinHealthyTime", "*d"), ("healthy_deadline", "HealthyDeadline", "*d"),
        ("progress_deadline", "ProgressDeadline", "*d"), ("canary", "Canary", "*i"),
        ("auto_revert", "AutoRevert", "*b"), ("auto_promote", "AutoPromote", "*b"),
    ],
    "PeriodicConfig": [
        ("enabled", "Enabled", "*b"), ("cron", "Spec", "*s"), ("crons", "Specs", "ls"), ("", "SpecType", "*s"),
        ("prohibit_overlap", "ProhibitOverlap", "*b"), ("time_zone", "TimeZone", "*s"),
    ],
    "ParameterizedJobConfig": [("payload", "Payload", "s"), ("meta_required", "MetaRequired", "ls"),
                               ("meta_optional", "MetaOptional", "ls")],
    "ReschedulePolicy": [
        ("attempts", "Attempts", "*i"), ("interval", "Interval", "*d"), ("delay", "Delay", "*d"),
        ("delay_function", "DelayFunction", "*s"), ("max_delay", "MaxDelay", "*d"), ("unlimited", "Unlimited", "*b"),
    ],
    "MigrateStrategy": [("max_parallel", "MaxParallel", "*i"), ("health_check", "HealthCheck", "*s"),
                        ("min_healthy_time", "MinHealthyTime", "*d"), ("healthy_deadline", "HealthyDeadline", "*d")],
    "RestartPolicy": [("interval", "Interval", "*d"), ("attempts", "Attempts", "*i"), ("delay", "Delay", "*d"),
                      ("mode", "Mode", "*s"), ("render_templates", "RenderTemplates", "*b")],
    "EphemeralDisk": [("sticky", "Sticky", "*b"), ("migrate", "Migrate", "*b"), ("size", "SizeMB", "*i")],
    "DisconnectStrategy": [("lost_after", "LostAfter", "*d"), ("stop_on_client_after", "StopOnClientAfter", "*d"),
                           ("replace", "Replace", "*b"), ("reconcile", "Reconcile", "*s")],
    "JobUIConfig": [("description", "Description", "s"), ("link", "Links", "[]JobUILink")],
    "JobUILink": [("label", "Label", "s"), ("url", "Url", "s")],
    "NetworkResource": [
        ("mode", "Mode", "s"), ("device", "Device", "s"), ("cidr", "CIDR", "s"), ("ip", "IP", "s"),
        ("dns", "DNS", "*DNSConfig"), ("reserved_ports", "ReservedPorts", "[]Port"), ("port", "DynamicPorts", "[]Port"),
        ("hostname", "Hostname", "s"), ("mbits", "MBits", "*i"), ("cni", "CNI", "*any"),
    ],
    "DNSConfig": [("servers", "Servers", "ls"), ("searches", "Searches", "ls"), ("options", "Options", "ls")],
    "Port": [("", "Label", "s"), ("static", "Value", "i"), ("to", "To", "i"), ("host_network", "HostNetwork", "s"),
             ("ignore_collision", "IgnoreCollision", "b")],
    "Resources": [
        ("cpu", "CPU", "*i"), ("cores", "Cores", "*i"), ("memory", "MemoryMB", "*i"),
        ("memory_max", "MemoryMaxMB", "*i"), ("disk", "DiskMB", "*i"), ("network", "Networks", "[]NetworkResource"),
        ("device", "Devices", "[]any"), ("numa", "NUMA", "*any"), ("secrets", "SecretsMB", "*i"),
        ("iops", "IOPS", "*i"),
    ],
    "Service": [
        ("name", "Name", "s"), ("tags", "Tags", "ls"), ("canary_tags", "CanaryTags", "ls"),
        ("enable_tag_override", "EnableTagOverride", "b"), ("port", "PortLabel", "s"),
        ("address_mode", "AddressMode", "s"), ("address", "Address", "s"), ("check", "Checks", "[]ServiceCheck"),
        ("check_restart", "CheckRestart", "*CheckRestart"), ("connect", "Connect", "*any"), ("meta", "Meta", "ms"),
        ("canary_meta", "CanaryMeta", "ms"), ("tagged_addresses", "TaggedAddresses", "ms"), ("task", "TaskName", "s"),
        ("on_update", "OnUpdate", "s"), ("identity", "Identity", "*any"), ("weights", "Weights", "*any"),
        ("provider", "Provider", "s"), ("cluster", "Cluster", "s"), ("kind", "Kind", "s"),
    ],
    "ServiceCheck": [
        ("name", "Name", "s"), ("type", "Type", "s"), ("command", "Command", "s"), ("args", "Args", "ls"),
        ("path", "Path", "s"), ("protocol", "Protocol", "s"), ("port", "PortLabel", "s"), ("expose", "Expose", "b"),
        ("address_mode", "AddressMode", "s"), ("advertise", "Advertise", "s"), ("interval", "Interval", "d"),
        ("timeout", "Timeout", "d"), ("initial_status", "InitialStatus", "s"), ("notes", "Notes", "s"),
        ("tls_server_name", "TLSServerName", "s"), ("tls_skip_verify", "TLSSkipVerify", "b"),
        ("header", "Header", "*any"), ("method", "Method", "s"), ("check_restart", "CheckRestart", "*CheckRestart"),
        ("grpc_service", "GRPCService", "s"), ("grpc_use_tls", "GRPCUseTLS", "b"), ("task", "TaskName", "s"),
        ("success_before_passing", "SuccessBeforePassing", "i"),
        ("failures_before_critical", "FailuresBeforeCritical", "i"),
        ("failures_before_warning", "FailuresBeforeWarning", "i"), ("body", "Body", "s"),
        ("on_update", "OnUpdate", "s"),
    ],
    "CheckRestart": [("limit", "Limit", "i"), ("grace", "Grace", "*d"), ("ignore_warnings", "IgnoreWarnings", "b")],
    "Template": [
        ("source", "SourcePath", "*s"), ("destination", "DestPath", "*s"), ("data", "EmbeddedTmpl", "*s"),
        ("change_mode", "ChangeMode", "*s"), ("change_script", "ChangeScript", "*any"),
        ("change_signal", "ChangeSignal", "*s"), ("once", "Once", "*b"), ("splay", "Splay", "*d"),
        ("perms", "Perms", "*s"), ("uid", "Uid", "*i"), ("gid", "Gid", "*i"), ("left_delimiter", "LeftDelim", "*s"),
        ("right_delimiter", "RightDelim", "*s"), ("env", "Envvars", "*b"), ("vault_grace", "VaultGrace", "*d"),
        ("wait", "Wait", "*any"), ("error_on_missing_key", "ErrMissingKey", "*b"),
    ],
    "LogConfig": [("max_files", "MaxFiles", "*i"), ("max_file_size", "MaxFileSizeMB", "*i"),
                  ("enabled", "Enabled", "*b"), ("disabled", "Disabled", "*b")],
    "VolumeRequest": [
        ("", "Name", "s"), ("type", "Type", "s"), ("source", "Source", "s"), ("read_only", "ReadOnly", "b"),
        ("sticky", "Sticky", "b"), ("access_mode", "AccessMode", "s"), ("attachment_mode", "AttachmentMode", "s"),
        ("mount_options", "MountOptions", "*any"), ("per_alloc", "PerAlloc", "b"),
    ],
    "VolumeMount": [("volume", "Volume", "*s"), ("destination", "Destination", "*s"), ("read_only", "ReadOnly", "*b"),
                    ("propagation_mode", "PropagationMode", "*s"), ("selinux_label", "SELinuxLabel", "*s")],
    "TaskLifecycle": [("hook", "Hook", "s"), ("sidecar", "Sidecar", "b")],
    "ScalingPolicy": [
        ("min", "Min", "*i"), ("max", "Max", "*i"), ("policy", "Policy", "any"), ("enabled", "Enabled", "*b"),
        ("type", "Type", "s"), ("", "ID", "s"), ("", "Namespace", "s"), ("", "Target", "*any"),
        ("", "CreateIndex", "i"), ("", "ModifyIndex", "i"),
    ],
    "DispatchPayloadConfig": [("file", "File", "s")],
    "TaskArtifact": [
        ("source", "GetterSource", "*s"), ("options", "GetterOptions", "ms"), ("headers", "GetterHeaders", "ms"),
        ("mode", "GetterMode", "*s"), ("insecure", "GetterInsecure", "*b"), ("destination", "RelativeDest", "*s"),
        ("chown", "Chown", "b"),
    ],
}
# Labelled blocks: the label fills this field.
_LABEL = {"Job": "ID", "TaskGroup": "Name", "Task": "Name", "Port": "Label", "SpreadTarget": "Value",
          "VolumeRequest": "Name"}
# Shorthand arguments of constraint/affinity blocks (jobspec2 decodeConstraint/decodeAffinity).
_CONSTRAINT_SHORTHANDS = ("version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all",
                          "distinct_hosts", "distinct_property")


def _zero(kind: str) -> Any:
    if kind.startswith("*") or kind in ("ls", "ms", "any") or kind.startswith(("[]", "{}")):
        return None
    return {"s": "", "i": 0, "b": False, "d": 0}[kind]


def _empty(struct: str) -> dict[str, Any]:
    return {go: _zero(kind) for _, go, kind in _STRUCTS[struct]}


# -- values: python-hcl2 output → Python values, evaluating HCL expressions --------------------
_RUNTIME_ROOTS = ("attr", "node", "meta", "env", "NOMAD_", "device", "unique", "driver", "taskdir")


class _Unresolved(Exception):
    """An interpolation Nomad resolves at run time (``${attr.kernel.name}``): kept as text."""


@dataclass
class _Scope:
    variables: dict[str, Any]
    locals: dict[str, Any]
    local_src: dict[str, Any]


def _unescape(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                digits = body[i + 2:i + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


def _split_template(text: str) -> list[tuple[bool, str]]:
    """A template string as (is-interpolation, text) parts; ``$${`` and ``%%{`` stay literal."""
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if text.startswith("%%{", i):
            buf.append("%{")
            i += 3
            continue
        if text.startswith("${", i):
            depth, j, quote = 1, i + 2, False
            while j < len(text) and depth:
                c = text[j]
                if quote:
                    if c == "\\":
                        j += 1
                    elif c == '"':
                        quote = False
                elif c == '"':
                    quote = True
                elif c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                j += 1
            if depth:
                buf.append(text[i:])
                break
            if buf:
                parts.append((False, "".join(buf)))
                buf = []
            parts.append((True, text[i + 2:j - 1]))
            i = j
            continue
        buf.append(text[i])
        i += 1
    if buf or not parts:
        parts.append((False, "".join(buf)))
    return parts


_TOKEN = re.compile(r'\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")|'
                    r'(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}=]))')


class _Expr:
    """A small recursive-descent evaluator for the HCL expressions jobspecs use."""

    def __init__(self, text: str, scope: _Scope) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise _diag("Invalid expression", f"Expected the start of an expression, but found {text[pos:]!r}.")
            kind = m.lastgroup or "op"
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.pos = 0
        self.scope = scope

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _diag("Invalid expression", f"Expected {value!r}." if value else "Unexpected end of expression.")
        self.pos += 1
        return tok

    def evaluate(self) -> Any:
        value = self.ternary()
        if self.peek() is not None:
            raise _diag("Extra characters after expression", "An expression was successfully parsed, but extra "
                        "characters were found after it.")
        return value

    def ternary(self) -> Any:
        cond = self.binary(0)
        if self.peek() == ("op", "?"):
            self.take("?")
            yes = self.ternary()
            self.take(":")
            no = self.ternary()
            return yes if cond else no
        return cond

    _PREC = [("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "/", "%")]

    def binary(self, level: int) -> Any:
        if level == len(self._PREC):
            return self.unary()
        left = self.binary(level + 1)
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in self._PREC[level]:
            op = self.take()[1]
            right = self.binary(level + 1)
            left = _apply_op(op, left, right)
        return left

    def unary(self) -> Any:
        tok = self.peek()
        if tok == ("op", "-"):
            self.take()
            return -_number(self.unary())
        if tok == ("op", "!"):
            self.take()
            return not self.unary()
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while (tok := self.peek()) is not None and tok[1] in (".", "["):
            if tok[1] == ".":
                self.take()
                key = self.take()[1]
                value = _index(value, int(key) if key.isdigit() else key)
            else:
                self.take("[")
                key = self.ternary()
                self.take("]")
                value = _index(value, key)
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "str":
            return _template(_unescape(text[1:-1]), self.scope)
        if kind == "op" and text == "(":
            value = self.ternary()
            self.take(")")
            return value
        if kind == "op" and text == "[":
            items: list[Any] = []
            while self.peek() != ("op", "]"):
                items.append(self.ternary())
                if self.peek() == ("op", ","):
                    self.take()
            self.take("]")
            return items
        if kind == "op" and text == "{":
            obj: dict[str, Any] = {}
            while self.peek() != ("op", "}"):
                key_tok = self.take()
                key = _unescape(key_tok[1][1:-1]) if key_tok[0] == "str" else key_tok[1]
                self.take(self.peek()[1] if self.peek() in (("op", "="), ("op", ":")) else "=")  # type: ignore[index]
                obj[key] = self.ternary()
                if self.peek() == ("op", ","):
                    self.take()
            self.take("}")
            return obj
        if kind == "name":
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            if self.peek() == ("op", "("):
                return self.call(text)
            return self.reference(text)
        raise _diag("Invalid expression", f"Expected the start of an expression, but found {text!r}.")

    def call(self, name: str) -> Any:
        self.take("(")
        args: list[Any] = []
        while self.peek() != ("op", ")"):
            args.append(self.ternary())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise _diag("Call to unknown function", f'There is no function named "{name}".')
        try:
            return fn(*args)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise _diag("Error in function call", f'Call to function "{name}" failed: {exc}.') from None

    def reference(self, root: str) -> Any:
        if root == "var":
            self.take(".")
            name = self.take()[1]
            if name not in self.scope.variables:
                raise _diag("Reference to undeclared input variable",
                            f'An input variable with the name "{name}" has not been declared.')
            return self.scope.variables[name]
        if root == "local":
            self.take(".")
            name = self.take()[1]
            return _local(self.scope, name)
        raise _Unresolved(root)


def _local(scope: _Scope, name: str) -> Any:
    if name in scope.locals:
        return scope.locals[name]
    if name not in scope.local_src:
        raise _diag("Unsupported attribute", f'This object does not have an attribute named "{name}".')
    raw = scope.local_src.pop(name)  # popped first: a self-referencing local fails, not loops
    scope.locals[name] = _value(raw, scope)
    return scope.locals[name]


def _number(v: Any) -> int | float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise _diag("Invalid operand",
                        f"Unsuitable value for unary operand: a number is required, got {v!r}.") from None
        return int(f) if f.is_integer() else f
    return v


def _apply_op(op: str, a: Any, b: Any) -> Any:
    if op in ("&&", "||"):
        return (a and b) if op == "&&" else (a or b)
    if op in ("==", "!="):
        return (a == b) if op == "==" else (a != b)
    x, y = _number(a), _number(b)
    if op in ("<", "<=", ">", ">="):
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
    if op in ("/", "%") and y == 0:
        raise _diag("Error in operator", "Can't divide by zero.")
    result: int | float
    if op == "+":
        result = x + y
    elif op == "-":
        result = x - y
    elif op == "*":
        result = x * y
    elif op == "/":
        result = x / y
    else:
        result = x % y
    return int(result) if isinstance(result, float) and result.is_integer() else result


def _index(value: Any, key: Any) -> Any:
    try:
        if isinstance(value, list):
            return value[int(key)]
        if isinstance(value, dict):
            return value[key]
    except (KeyError, IndexError, ValueError):
        pass
    raise _diag("Invalid index", f"The given key {key!r} does not identify an element in this collection value.")


def _hcl_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)) or v is None:
        raise _diag("Invalid template interpolation value", "Cannot include the given value in a string template: "
                    "string required.")
    return str(v)


def _format(fmt: str, *args: Any) -> str:
    out, it, i = [], iter(args), 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdvq":
                v = next(it)
                out.append(f'"{v}"' if verb == "q" else _hcl_str(v))
            else:
                raise ValueError(f"unsupported format verb %{verb}")
            i += 2
            continue
        out.append(fmt[i])
        i += 1
    return "".join(out)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "upper": lambda s: str(s).upper(), "lower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(), "trimspace": lambda s: str(s).strip(),
    "join": lambda sep, items: str(sep).join(_hcl_str(x) for x in items),
    "split": lambda sep, s: str(s).split(str(sep)),
    "replace": lambda s, old, new: str(s).replace(str(old), str(new)),
    "format": _format, "concat": lambda *lists: [x for lst in lists for x in lst],
    "length": lambda v: len(v), "tostring": _hcl_str, "tonumber": _number,
    "min": lambda *v: min(_number(x) for x in v), "max": lambda *v: max(_number(x) for x in v),
    "lookup": lambda m, k, *default: m[k] if k in m or not default else default[0],
    "coalesce": lambda *v: next(x for x in v if x not in (None, "")),
    "contains": lambda lst, v: v in lst, "keys": lambda m: sorted(m), "values": lambda m: [m[k] for k in sorted(m)],
    "merge": lambda *maps: {k: v for m in maps for k, v in m.items()},
}


def _template(text: str, scope: _Scope) -> str:
    parts = _split_template(text)
    out: list[str] = []
    for is_expr, chunk in parts:
        if not is_expr:
            out.append(chunk)
            continue
        try:
            out.append(_hcl_str(_Expr(chunk, scope).evaluate()))
        except _Unresolved:
            out.append("${" + chunk + "}")
    return "".join(out)


def _value(raw: Any, scope: _Scope) -> Any:
    """A python-hcl2 value (quoted strings, ``${expr}`` for bare expressions) as a Python value."""
    if isinstance(raw, str):
        if raw.startswith('"<<') and raw.endswith('"'):
            return _template(_heredoc(raw[1:-1]), scope)
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return _template(_unescape(raw[1:-1]), scope)
        if raw.startswith("${") and raw.endswith("}"):
            inner = raw[2:-1]
            try:
                return _Expr(inner, scope).evaluate()
            except _Unresolved:
                return raw
        return raw
    if isinstance(raw, list):
        return [_value(v, scope) for v in raw]
    if isinstance(raw, dict):
        return {_key(k): _value(v, scope) for k, v in raw.items() if not _meta_key(k)}
    return raw


def _heredoc(text: str) -> str:
    """A heredoc's content: every line up to the marker, each ending in a newline; ``<<-``
    strips the smallest indentation, as HCL does. Backslashes are literal in heredocs."""
    head, _, rest = text.partition("\n")
    trim = head.startswith("<<-")
    lines = rest.split("\n")[:-1]  # the last line holds the closing marker
    if trim:
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        lines = [line[cut:] for line in lines]
    return "".join(line + "\n" for line in lines)


def _key(k: str) -> str:
    return k[1:-1] if len(k) >= 2 and k[0] == k[-1] == '"' else k


def _meta_key(k: Any) -> bool:
    return isinstance(k, str) and k.startswith("__") and k.endswith("__")


# -- decoding blocks into api structs ------------------------------------------------------------
def _duration(v: Any, where: str) -> int:
    from .router import parse_duration

    if isinstance(v, bool):
        raise _diag("Unsuitable value type", f"{where}: a duration string is required.")
    if isinstance(v, (int, float)):
        return int(v)
    try:
        return int(round(parse_duration(str(v)) * _S))
    except ValueError as exc:
        raise _diag("Unsuitable duration value", f"{where}: {exc}") from None


def _scalar(kind: str, v: Any, where: str) -> Any:
    base = kind.lstrip("*")
    if v is None:
        return _zero(kind)
    if base == "s":
        if isinstance(v, (dict, list)):
            raise _diag("Incorrect attribute value type",
                        f'Inappropriate value for attribute "{where}": string required.')
        return _hcl_str(v)
    if base == "i":
        if isinstance(v, (bool, dict, list)):
            raise _diag("Incorrect attribute value type",
                        f'Inappropriate value for attribute "{where}": number required.')
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise _diag("Incorrect attribute value type",
                        f'Inappropriate value for attribute "{where}": a number is required.') from None
        if not f.is_integer():
            raise _diag("Incorrect attribute value type", f'Inappropriate value for attribute "{where}": '
                        "a whole number is required.")
        return int(f)
    if base == "b":
        if isinstance(v, bool):
            return v
        if v in ("true", "false"):
            return v == "true"
        raise _diag("Incorrect attribute value type", f'Inappropriate value for attribute "{where}": bool required.')
    if base == "d":
        return _duration(v, where)
    if base == "ls":
        items = v if isinstance(v, list) else [v]
        return [_hcl_str(x) for x in items]
    return v


def _blocks(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _labelled(raw: Any, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """``{"\\"label\\"": body}`` items of a labelled block list."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in _blocks(raw):
        if not isinstance(item, dict):
            raise _diag("Missing name for block", f'All "{kind}" blocks must have 1 labels (name).')
        for label, body in item.items():
            if _meta_key(label):
                continue
            if not isinstance(body, dict) or not body.get("__is_block__", True):
                raise _diag("Missing name for block", f'All "{kind}" blocks must have 1 labels (name).')
            out.append((_key(label), body))
    return out


def _map_strings(raw: Any, scope: _Scope, where: str) -> dict[str, str]:
    merged: dict[str, Any] = {}
    for item in _blocks(raw):
        if isinstance(item, str):
            item = _value(item, scope)
        if not isinstance(item, dict):
            raise _diag("Incorrect attribute value type", f'Inappropriate value for attribute "{where}": map required.')
        merged.update({_key(k): v for k, v in item.items() if not _meta_key(k)})
    return {k: _hcl_str(_value(v, scope)) for k, v in merged.items()}


def _any_block(raw: Any, scope: _Scope) -> Any:
    """A free-form block (driver config): attributes as values, nested blocks as lists of maps."""
    if isinstance(raw, list):
        if all(isinstance(x, dict) for x in raw):
            return [_any_block(x, scope) for x in raw]
        return _value(raw, scope)
    if isinstance(raw, dict):
        return {_key(k): _any_block(v, scope) for k, v in raw.items() if not _meta_key(k)}
    return _value(raw, scope)


def _decode(struct: str, body: dict[str, Any], scope: _Scope, label: str | None = None) -> dict[str, Any]:
    fields = {hcl: (go, kind) for hcl, go, kind in _STRUCTS[struct] if hcl}
    out = _empty(struct)
    if label is not None:
        out[_LABEL[struct]] = label
    extra: dict[str, Any] = {}
    for raw_key, raw in body.items():
        if _meta_key(raw_key):
            continue
        key = _key(raw_key)
        if struct in ("Constraint", "Affinity") and key in _CONSTRAINT_SHORTHANDS:
            extra[key] = _value(raw, scope)
            continue
        if key not in fields:
            is_block = isinstance(raw, list) and raw and isinstance(raw[0], dict) and raw[0].get("__is_block__")
            if is_block:
                raise _diag("Unsupported block type", f'Blocks of type "{key}" are not expected here.')
            raise _diag("Unsupported argument", f'An argument named "{key}" is not expected here.')
        go, kind = fields[key]
        if kind == "any" or kind == "*any" or kind == "[]any":
            out[go] = _any_block(raw, scope) if kind != "*any" else _any_block(raw, scope)
            if kind in ("any", "*any") and isinstance(out[go], list):
                merged: dict[str, Any] = {}
                for part in out[go]:
                    merged.update(part if isinstance(part, dict) else {})
                out[go] = merged
        elif kind == "ms":
            out[go] = _map_strings(raw, scope, key) or None
        elif kind.startswith("{}"):
            sub = kind[2:]
            out[go] = {name: _decode(sub, b, scope, name) for name, b in _labelled(raw, key)} or None
        elif kind.startswith("[]"):
            sub = kind[2:]
            if sub in _LABEL:
                items = [_decode(sub, b, scope, name) for name, b in _labelled(raw, key)]
            else:
                items = [_decode(sub, b, scope) for b in _blocks(raw) if isinstance(b, dict)]
            out[go] = (out[go] or []) + items
        elif kind.startswith("*") and kind[1:] in _STRUCTS:
            blocks = [b for b in _blocks(raw) if isinstance(b, dict)]
            if len(blocks) > 1:
                raise _diag("Duplicate block", f'Only one "{key}" block is allowed.')
            out[go] = _decode(kind[1:], blocks[0], scope) if blocks else None
        else:
            out[go] = _scalar(kind, _value(raw, scope), key)
    if struct in ("Constraint", "Affinity"):
        _constraint_shorthands(out, extra)
    return out


def _constraint_shorthands(out: dict[str, Any], extra: dict[str, Any]) -> None:
    for name in ("version", "semver", "regexp", "set_contains", "set_contains_any", "set_contains_all"):
        if extra.get(name):
            out["Operand"], out["RTarget"] = name, _hcl_str(extra[name])
    if "distinct_hosts" in extra and extra["distinct_hosts"] is not None:
        out["Operand"], out["RTarget"] = "distinct_hosts", "true" if extra["distinct_hosts"] else "false"
    if extra.get("distinct_property"):
        out["Operand"], out["LTarget"] = "distinct_property", _hcl_str(extra["distinct_property"])
    if not out["Operand"]:
        out["Operand"] = "="


def _normalize_ports(networks: list[dict[str, Any]] | None) -> None:
    for n in networks or ():
        if not n.get("DynamicPorts"):
            continue
        dynamic = [p for p in n["DynamicPorts"] if not p["Value"] > 0]
        reserved = [p for p in n["DynamicPorts"] if p["Value"] > 0]
        n["DynamicPorts"] = dynamic or None
        n["ReservedPorts"] = reserved or None


def _normalize(job: dict[str, Any]) -> None:
    """``jobspec2.normalizeJob``: periodic spec type, static ports, template defaults."""
    periodic = job.get("Periodic")
    if periodic is not None and (periodic.get("Spec") is not None or periodic.get("Specs") is not None):
        periodic["SpecType"] = "cron"
    for tg in job.get("TaskGroups") or ():
        _normalize_ports(tg.get("Networks"))
        for task in tg.get("Tasks") or ():
            if task.get("Resources") is not None:
                _normalize_ports(task["Resources"].get("Networks"))
            for tmpl in task.get("Templates") or ():
                if tmpl["ChangeMode"] is None:
                    tmpl["ChangeMode"] = "restart"
                if tmpl["Perms"] is None:
                    tmpl["Perms"] = "0644"
                if tmpl["Splay"] is None:
                    tmpl["Splay"] = 5 * _S
                if tmpl["ErrMissingKey"] is None:
                    tmpl["ErrMissingKey"] = False


# -- the document: variables, locals, the job block -----------------------------------------------
def _load(text: str) -> dict[str, Any]:
    import hcl2
    from hcl2.utils import SerializationOptions
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        tree: dict[str, Any] = hcl2.loads(text, serialization_options=SerializationOptions(
            with_comments=False, preserve_heredocs=True))
    except UnexpectedInput as exc:
        line, col = int(getattr(exc, "line", 1) or 1), int(getattr(exc, "column", 1) or 1)
        raise _diag("Invalid expression" if "Expected one of" in str(exc) else "Argument or block definition required",
                    f"Unexpected input at line {line}, column {col}.", line, col) from None
    except (LarkError, ValueError, TypeError, RecursionError) as exc:
        raise _diag("Invalid syntax", str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    except Exception as exc:  # noqa: BLE001 - the parser's transformer raises assorted types on odd input
        raise _diag("Invalid syntax", f"the text could not be read as HCL ({type(exc).__name__})") from None
    return tree


def _variables(tree: dict[str, Any], var_text: str) -> dict[str, Any]:
    given: dict[str, Any] = {}
    if var_text.strip():
        empty = _Scope({}, {}, {})
        given = {_key(k): _value(v, empty) for k, v in _load(var_text).items() if not _meta_key(k)}
    declared: dict[str, Any] = {}
    empty_scope = _Scope({}, {}, {})
    for name, body in _labelled(tree.get("variable") or [], "variable"):
        if name in given:
            declared[name] = given[name]
        elif "default" in body:
            declared[name] = _value(body["default"], empty_scope)
        else:
            raise _diag(f'Unset variable "{name}"', "A used variable must be set or have a default value; see "
                        "https://developer.hashicorp.com/nomad/docs/reference/hcl2/variables  for details.")
        vtype = str(body.get("type", "") or "")
        if vtype in ("number",) and isinstance(declared[name], str):
            declared[name] = _number(declared[name])
        if vtype == "bool" and isinstance(declared[name], str) and declared[name] in ("true", "false"):
            declared[name] = declared[name] == "true"
    # A value for a variable the jobspec does not declare is only a warning when parsing is not
    # strict, as for /v1/jobs/parse (jobspec2 types.variables.go "Undefined variable").
    return declared


def parse_jobspec(text: str, variables: str = "") -> dict[str, Any]:
    """Parse an HCL2 jobspec into the API ``Job`` JSON (``Canonicalize: false``).

    Parameters
    ----------
    text
        The jobspec (``JobHCL``).
    variables
        HCL variable-file content (``Variables``): ``name = value`` lines.

    Returns
    -------
    dict
        Every ``api.Job`` field, unset pointers ``None``.

    Raises
    ------
    JobspecError
        The text does not parse or does not decode, with an HCL diagnostic as its message.
    """
    tree = _load(text)
    for key in tree:
        if not _meta_key(key) and key not in ("job", "variable", "variables", "locals"):
            raise _diag("Unsupported block type", f'Blocks of type "{_key(key)}" are not expected here.')
    scope = _Scope(_variables(tree, variables), {}, {})
    for block in _blocks(tree.get("locals") or []):
        if isinstance(block, dict):
            scope.local_src.update({k: v for k, v in block.items() if not _meta_key(k)})
    jobs = _labelled(tree.get("job") or [], "job")
    if not jobs:
        raise _diag("Missing job block", "A job block is required")
    if len(jobs) > 1:
        raise _diag("Duplicate job block", "Only one job block is allowed")
    label, body = jobs[0]
    job = _decode("Job", body, scope)
    if job["ID"] is None:
        job["ID"] = label
    if job["Name"] is None:
        job["Name"] = label
    _normalize(job)
    return job


# -- api.Job.Canonicalize -------------------------------------------------------------------
_UPDATE_DEFAULT = {"Stagger": 30 * _S, "MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * _S,
                   "HealthyDeadline": 300 * _S, "ProgressDeadline": 600 * _S, "AutoRevert": False, "Canary": 0,
                   "AutoPromote": False}
_MIGRATE_DEFAULT = {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * _S, "HealthyDeadline": 300 * _S}
_RESCHEDULE_DEFAULT = {
    "service": {"Attempts": 0, "Interval": 0, "Delay": 30 * _S, "DelayFunction": "exponential",
                "MaxDelay": 3600 * _S, "Unlimited": True},
    "batch": {"Attempts": 1, "Interval": 24 * 3600 * _S, "Delay": 5 * _S, "DelayFunction": "constant",
              "MaxDelay": 0, "Unlimited": False},
}
_RESTART_SERVICE = {"Interval": 1800 * _S, "Attempts": 2, "Delay": 15 * _S, "Mode": "fail", "RenderTemplates": False}
_RESTART_BATCH = {"Interval": 24 * 3600 * _S, "Attempts": 3, "Delay": 15 * _S, "Mode": "fail", "RenderTemplates": False}


def _fill(obj: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    for k, v in defaults.items():
        if obj.get(k) is None:
            obj[k] = v
    return obj


def _merged(base: dict[str, Any] | None, over: dict[str, Any] | None) -> dict[str, Any] | None:
    if base is None:
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if v is not None:
            out[k] = v
    return out


def _update_empty(u: dict[str, Any] | None) -> bool:
    return u is None or not any(v not in (None, 0, "", False) for v in u.values())


def canonicalize(job: dict[str, Any]) -> dict[str, Any]:
    """Apply ``api.Job.Canonicalize`` (``api/jobs.go``, ``api/tasks.go``) to a parsed job, in place."""
    _fill(job, {"ID": "", "ParentID": "", "Namespace": "default", "Priority": 50, "Stop": False,
                "Region": "global", "NodePool": "", "Type": "service", "AllAtOnce": False, "ConsulNamespace": "",
                "VaultNamespace": "", "NomadTokenID": "", "Status": "", "StatusDescription": "", "Stable": False,
                "Version": 0, "CreateIndex": 0, "ModifyIndex": 0, "JobModifyIndex": 0})
    _fill(job, {"Name": job["ID"]})
    job_type = job["Type"]
    if job.get("Periodic") is not None:
        p = job["Periodic"]
        _fill(p, {"Enabled": True, "Spec": "", "SpecType": "cron", "ProhibitOverlap": False})
        if p.get("Specs") is None:
            p["Specs"] = []
        if not p.get("TimeZone"):
            p["TimeZone"] = "UTC"
    if job.get("Update") is not None:
        _fill(job["Update"], _UPDATE_DEFAULT)
    elif job_type in ("service", "system"):
        job["Update"] = dict(_UPDATE_DEFAULT)
    for tg in job.get("TaskGroups") or ():
        _canonicalize_group(tg, job)
    for a in job.get("Affinities") or ():
        _fill(a, {"Weight": 50})
    for s in job.get("Spreads") or ():
        _fill(s, {"Weight": 50})
    return job


def _canonicalize_group(tg: dict[str, Any], job: dict[str, Any]) -> None:
    job_type = job["Type"]
    _fill(tg, {"Name": ""})
    scaling = tg.get("Scaling")
    if tg.get("Count") is None:
        tg["Count"] = int(scaling["Min"]) if scaling is not None and scaling.get("Min") is not None else 1
    if scaling is not None:
        _fill(scaling, {"Enabled": True, "Min": tg["Count"]})
        scaling["Type"] = scaling.get("Type") or "horizontal"
    tg["EphemeralDisk"] = _fill(tg.get("EphemeralDisk") or {}, {"Sticky": False, "Migrate": False, "SizeMB": 300})
    if job.get("Update") is not None and tg.get("Update") is not None:
        tg["Update"] = _merged(job["Update"], tg["Update"])
    elif job.get("Update") is not None and not _update_empty(job["Update"]):
        tg["Update"] = copy.deepcopy(job["Update"])
    if tg.get("Update") is not None:
        _fill(tg["Update"], _UPDATE_DEFAULT)
    if job.get("Reschedule") is not None:
        tg["ReschedulePolicy"] = _merged(job["Reschedule"], tg.get("ReschedulePolicy"))
    if tg.get("ReschedulePolicy") is None and job_type not in ("sysbatch", "system"):
        tg["ReschedulePolicy"] = dict(_RESCHEDULE_DEFAULT.get(job_type, _RESCHEDULE_DEFAULT["batch"]))
    if tg.get("ReschedulePolicy") is not None:
        defaults = _RESCHEDULE_DEFAULT.get(job_type)
        if defaults is not None:
            _fill(tg["ReschedulePolicy"], defaults)
    if job.get("Migrate") is not None:
        tg["Migrate"] = _merged(job["Migrate"], tg.get("Migrate"))
    if tg.get("Migrate") is None and job_type == "service":
        tg["Migrate"] = {}
    if tg.get("Migrate") is not None:
        _fill(tg["Migrate"], _MIGRATE_DEFAULT)
    default_restart = _RESTART_SERVICE if job_type in ("service", "system") else _RESTART_BATCH
    tg["RestartPolicy"] = _merged(default_restart, tg.get("RestartPolicy"))
    for task in tg.get("Tasks") or ():
        _canonicalize_task(task, tg, job)
    for a in tg.get("Affinities") or ():
        _fill(a, {"Weight": 50})
    for s in tg.get("Spreads") or ():
        _fill(s, {"Weight": 50})
    for svc in tg.get("Services") or ():
        _canonicalize_service(svc, None, tg, job)


def _canonicalize_task(task: dict[str, Any], tg: dict[str, Any], job: dict[str, Any]) -> None:
    res = task.get("Resources") or _empty("Resources")
    if res.get("Cores") is None:
        res["Cores"] = 0
        if res.get("CPU") is None:
            res["CPU"] = 100
    if res.get("CPU") is None:
        res["CPU"] = 0
    if res.get("MemoryMB") is None:
        res["MemoryMB"] = 300
    task["Resources"] = res
    if task.get("KillTimeout") is None:
        task["KillTimeout"] = 5 * _S
    task["LogConfig"] = _fill(task.get("LogConfig") or {k: None for _, k, _ in _STRUCTS["LogConfig"]},
                              {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False})
    for art in task.get("Artifacts") or ():
        _fill(art, {"GetterMode": "any", "GetterInsecure": False, "GetterSource": ""})
        if art.get("RelativeDest") is None:
            base = str(art["GetterSource"]).rstrip("/").rsplit("/", 1)[-1]
            art["RelativeDest"] = f"local/{base}" if art["GetterMode"] == "file" else "local/"
    for tmpl in task.get("Templates") or ():
        _fill(tmpl, {"SourcePath": "", "DestPath": "", "EmbeddedTmpl": "", "ChangeMode": "restart"})
        if tmpl.get("ChangeSignal") is None:
            tmpl["ChangeSignal"] = "SIGHUP" if tmpl["ChangeMode"] == "signal" else ""
        else:
            tmpl["ChangeSignal"] = str(tmpl["ChangeSignal"]).upper()
        _fill(tmpl, {"Once": False, "Splay": 5 * _S, "Perms": "0644", "LeftDelim": "{{", "RightDelim": "}}",
                     "Envvars": False, "VaultGrace": 0, "ErrMissingKey": False})
    for svc in task.get("Services") or ():
        _canonicalize_service(svc, task, tg, job)
    for a in task.get("Affinities") or ():
        _fill(a, {"Weight": 50})
    for vm in task.get("VolumeMounts") or ():
        _fill(vm, {"PropagationMode": "private", "ReadOnly": False, "SELinuxLabel": ""})
    task["RestartPolicy"] = _merged(tg["RestartPolicy"], task.get("RestartPolicy"))


def _canonicalize_service(svc: dict[str, Any], task: dict[str, Any] | None, tg: dict[str, Any],
                          job: dict[str, Any]) -> None:
    if not svc["Name"]:
        svc["Name"] = (f"{job['Name']}-{tg['Name']}-{task['Name']}" if task is not None
                       else f"{job['Name']}-{tg['Name']}")
    svc["AddressMode"] = svc["AddressMode"] or "auto"
    svc["OnUpdate"] = svc["OnUpdate"] or "require_healthy"
    svc["Provider"] = svc["Provider"] or "consul"
    svc["Cluster"] = svc["Cluster"] or "default"
    for check in svc.get("Checks") or ():
        restart = _merged(svc.get("CheckRestart"), check.get("CheckRestart"))
        if restart is not None:
            _fill(restart, {"Grace": 1 * _S})
        check["CheckRestart"] = restart
        check["SuccessBeforePassing"] = max(0, check["SuccessBeforePassing"])
        check["FailuresBeforeCritical"] = max(0, check["FailuresBeforeCritical"])
        check["FailuresBeforeWarning"] = max(0, check["FailuresBeforeWarning"])
        check["OnUpdate"] = check["OnUpdate"] or svc["OnUpdate"]
