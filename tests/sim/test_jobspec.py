"""HCL2 jobspecs → API jobs (``nomadlab.sim.jobspec``) and ``POST /v1/jobs/parse`` over HTTP.

Facts from ``command/agent/job_endpoint.go`` ``JobsParseRequest`` (405 for other methods, the
token checked before the body, 400 ``Job spec is empty`` / ``Failed to parse job: …``), from
``jobspec2`` (the label gives ``ID``/``Name``; ``port`` blocks with ``static`` become
``ReservedPorts``; constraint shorthands; template defaults) and from ``api.Job.Canonicalize``.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.sim import SimCluster
from nomadlab.sim.jobspec import JobspecError, canonicalize, parse_jobspec
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster

SAMPLES = SAMPLES_DIR
S = 1_000_000_000

# A service job using the blocks real jobspecs use (the shape of `nomad job init`'s example, with
# the rest of the blocks added).
WEB = r'''
variable "image" {
  type    = string
  default = "nginx:1.27"
}

variable "replicas" {
  type    = number
  default = 2
}

locals {
  owner = upper("web-team")
  port  = 8080
}

job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 60
  node_pool   = "default"

  meta {
    owner = local.owner
    build = 42
  }

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    distinct_hosts = true
  }

  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 75
  }

  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  reschedule {
    delay          = "30s"
    delay_function = "exponential"
    max_delay      = "10m"
    unlimited      = true
  }

  group "frontend" {
    count = var.replicas

    network {
      port "http" {
        to = 80
      }
      port "admin" {
        static = local.port
      }
    }

    volume "certs" {
      type      = "host"
      source    = "certs"
      read_only = true
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    update {
      canary = 1
    }

    service {
      name     = "web"
      port     = "http"
      tags     = ["urlprefix-/"]
      provider = "nomad"

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "nginx" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
        args  = ["-g", "daemon off;", "${NOMAD_PORT_http}"]
        mount {
          type   = "bind"
          source = "local"
          target = "/etc/nginx/conf.d"
        }
      }

      env {
        LISTEN = "${NOMAD_PORT_http}"
        MODE   = "prod-${var.replicas}"
      }

      volume_mount {
        volume      = "certs"
        destination = "/certs"
      }

      template {
        data        = <<EOF
server { listen {{ env "NOMAD_PORT_http" }}; }
EOF
        destination = "local/site.conf"
        change_mode = "signal"
        change_signal = "sighup"
      }

      resources {
        cpu        = 200
        memory     = 128
        memory_max = 256
      }

      kill_timeout = "20s"

      logs {
        max_files     = 3
        max_file_size = 5
      }
    }
  }
}
'''

REPORT = '''
job "report" {
  type = "batch"
  periodic {
    cron             = "0 */2 * * *"
    prohibit_overlap = true
  }
  parameterized {
    payload       = "optional"
    meta_required = ["day"]
    meta_optional = ["format"]
  }
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/report" }
    }
  }
}
'''


def _group(job: dict, name: str = "frontend") -> dict:
    return next(g for g in job["TaskGroups"] if g["Name"] == name)


def test_a_full_service_jobspec_decodes_block_by_block() -> None:
    job = parse_jobspec(WEB)
    assert (job["ID"], job["Name"], job["Type"], job["Priority"]) == ("web", "web", "service", 60)
    assert job["Datacenters"] == ["dc1", "dc2"] and job["NodePool"] == "default"
    assert job["Meta"] == {"owner": "WEB-TEAM", "build": "42"}
    assert job["Constraints"] == [
        {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
        {"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"},
    ]
    assert job["Affinities"] == [{"LTarget": "${node.datacenter}", "RTarget": "dc1", "Operand": "=", "Weight": 75}]
    assert job["Update"]["MinHealthyTime"] == 10 * S and job["Update"]["HealthyDeadline"] == 180 * S
    assert job["Update"]["AutoRevert"] is True and job["Update"]["Canary"] is None
    assert job["Reschedule"]["MaxDelay"] == 600 * S and job["Reschedule"]["Unlimited"] is True
    g = _group(job)
    assert g["Count"] == 2
    net = g["Networks"][0]
    assert [p["Label"] for p in net["DynamicPorts"]] == ["http"] and net["DynamicPorts"][0]["To"] == 80
    assert net["ReservedPorts"] == [{"Label": "admin", "Value": 8080, "To": 0, "HostNetwork": "",
                                     "IgnoreCollision": False}]
    assert g["Volumes"]["certs"]["Type"] == "host" and g["Volumes"]["certs"]["ReadOnly"] is True
    assert g["RestartPolicy"] == {"Interval": 300 * S, "Attempts": 3, "Delay": 15 * S, "Mode": "delay",
                                  "RenderTemplates": None}
    svc = g["Services"][0]
    assert (svc["Name"], svc["PortLabel"], svc["Tags"], svc["Provider"]) == ("web", "http", ["urlprefix-/"], "nomad")
    assert svc["Checks"][0]["Type"] == "http" and svc["Checks"][0]["Interval"] == 10 * S
    task = g["Tasks"][0]
    assert (task["Name"], task["Driver"]) == ("nginx", "docker")
    assert task["Config"]["image"] == "nginx:1.27"
    assert task["Config"]["args"] == ["-g", "daemon off;", "${NOMAD_PORT_http}"]
    assert task["Config"]["mount"] == [{"type": "bind", "source": "local", "target": "/etc/nginx/conf.d"}]
    assert task["Env"] == {"LISTEN": "${NOMAD_PORT_http}", "MODE": "prod-2"}
    assert task["VolumeMounts"][0]["Volume"] == "certs" and task["VolumeMounts"][0]["ReadOnly"] is None
    tmpl = task["Templates"][0]
    assert tmpl["EmbeddedTmpl"] == 'server { listen {{ env "NOMAD_PORT_http" }}; }\n'
    assert (tmpl["DestPath"], tmpl["ChangeMode"], tmpl["Perms"], tmpl["Splay"]) == (
        "local/site.conf", "signal", "0644", 5 * S)
    assert task["Resources"]["CPU"] == 200 and task["Resources"]["MemoryMaxMB"] == 256
    assert task["Resources"]["Cores"] is None
    assert task["KillTimeout"] == 20 * S and task["LogConfig"]["MaxFiles"] == 3


def test_without_canonicalize_unset_pointers_are_null() -> None:
    job = parse_jobspec('job "x" {\n  group "g" {\n    task "t" {}\n  }\n}\n')
    for key in ("Region", "Namespace", "Priority", "Type", "AllAtOnce", "Update", "Stop", "Version",
                "SubmitTime", "Status", "Meta", "Periodic", "ParameterizedJob"):
        assert job[key] is None, key
    assert (job["ID"], job["Name"], job["Dispatched"]) == ("x", "x", False)
    g = job["TaskGroups"][0]
    assert g["Count"] is None and g["RestartPolicy"] is None and g["EphemeralDisk"] is None
    t = g["Tasks"][0]
    assert (t["Driver"], t["Leader"], t["ShutdownDelay"], t["Resources"]) == ("", False, 0, None)


def test_canonicalize_fills_what_api_job_canonicalize_fills() -> None:
    job = canonicalize(parse_jobspec(WEB))
    assert (job["Region"], job["Namespace"], job["Stop"], job["AllAtOnce"], job["Version"]) == (
        "global", "default", False, False, 0)
    g = _group(job)
    # the group's update is the job's merged with the group's own canary
    assert g["Update"]["Canary"] == 1 and g["Update"]["AutoRevert"] is True
    assert g["Update"]["HealthyDeadline"] == 180 * S and g["Update"]["ProgressDeadline"] == 600 * S
    assert g["ReschedulePolicy"]["MaxDelay"] == 600 * S and g["ReschedulePolicy"]["Attempts"] == 0
    assert g["Migrate"] == {"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * S,
                            "HealthyDeadline": 300 * S}
    assert g["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}
    assert g["RestartPolicy"]["RenderTemplates"] is False and g["RestartPolicy"]["Mode"] == "delay"
    svc = g["Services"][0]
    assert (svc["AddressMode"], svc["OnUpdate"], svc["Cluster"]) == ("auto", "require_healthy", "default")
    assert svc["Checks"][0]["OnUpdate"] == "require_healthy"
    t = g["Tasks"][0]
    assert t["RestartPolicy"] == g["RestartPolicy"]
    assert t["LogConfig"] == {"MaxFiles": 3, "MaxFileSizeMB": 5, "Enabled": None, "Disabled": False}
    assert t["Resources"]["Cores"] == 0 and t["Resources"]["CPU"] == 200
    assert t["Templates"][0]["ChangeSignal"] == "SIGHUP" and t["Templates"][0]["LeftDelim"] == "{{"
    assert t["VolumeMounts"][0]["PropagationMode"] == "private"


@pytest.mark.parametrize(
    ("job_type", "restart", "reschedule"),
    [
        ("service", (2, 1800 * S), (0, "exponential", True)),
        ("batch", (3, 86400 * S), (1, "constant", False)),
        ("system", (2, 1800 * S), None),
        ("sysbatch", (3, 86400 * S), None),
    ],
)
def test_canonical_defaults_follow_the_job_type(job_type: str, restart: tuple[int, int],
                                                 reschedule: tuple[int, str, bool] | None) -> None:
    job = canonicalize(parse_jobspec(f'job "x" {{\n  type = "{job_type}"\n  group "g" {{\n    task "t" {{}}\n  }}\n}}'))
    g = job["TaskGroups"][0]
    assert (g["RestartPolicy"]["Attempts"], g["RestartPolicy"]["Interval"]) == restart
    if reschedule is None:
        assert g["ReschedulePolicy"] is None
    else:
        rp = g["ReschedulePolicy"]
        assert (rp["Attempts"], rp["DelayFunction"], rp["Unlimited"]) == reschedule
    assert (job["Update"] is not None) == (job_type in ("service", "system"))
    assert g["Count"] == 1 and g["Tasks"][0]["Resources"]["CPU"] == 100
    assert g["Tasks"][0]["Resources"]["MemoryMB"] == 300 and g["Tasks"][0]["KillTimeout"] == 5 * S


def test_periodic_and_parameterized_blocks() -> None:
    job = parse_jobspec(REPORT)
    assert job["Periodic"] == {"Enabled": None, "Spec": "0 */2 * * *", "Specs": None, "SpecType": "cron",
                               "ProhibitOverlap": True, "TimeZone": None}
    assert job["ParameterizedJob"] == {"Payload": "optional", "MetaRequired": ["day"], "MetaOptional": ["format"]}
    periodic = canonicalize(job)["Periodic"]
    assert (periodic["Enabled"], periodic["TimeZone"], periodic["Specs"]) == (True, "UTC", [])


def test_variables_from_the_request_override_defaults() -> None:
    # a value for an undeclared variable is a warning only (the parse endpoint is not strict)
    job = parse_jobspec(WEB, 'image = "nginx:1.28"\nreplicas = 4\nunused = true\n')
    assert _group(job)["Count"] == 4
    assert _group(job)["Tasks"][0]["Config"]["image"] == "nginx:1.28"


def test_interpolation_escapes_and_functions() -> None:
    text = '''
variable "names" { default = ["a", "b"] }
job "x" {
  meta {
    joined  = join(",", var.names)
    literal = "$${not.evaluated}"
    mixed   = "${format("%s-%d", "n", 3)}/${length(var.names) * 2}"
    runtime = "${meta.rack}"
    cond    = length(var.names) > 1 ? "many" : "one"
  }
}
'''
    meta = parse_jobspec(text)["Meta"]
    assert meta == {"joined": "a,b", "literal": "${not.evaluated}", "mixed": "n-3/4", "runtime": "${meta.rack}",
                    "cond": "many"}


@pytest.mark.parametrize(
    ("text", "variables", "summary"),
    [
        ('job "x" {', "", "input.hcl:1,10-11: "),
        ('job "x" { foo = 1 }', "", 'Unsupported argument; An argument named "foo" is not expected here.'),
        ('job "x" { bar { } }', "", 'Unsupported block type; Blocks of type "bar" are not expected here.'),
        ('job "x" { priority = var.p }', "", 'Reference to undeclared input variable; An input variable with the '
                                             'name "p" has not been declared.'),
        ('variable "p" {}\njob "x" {}', "", 'Unset variable "p"; A used variable must be set or have a default value'),
        ('job "x" { group "g" { restart { delay = "soon" } } }', "", 'Unsuitable duration value; delay: time: '
                                                                   'invalid duration "soon"'),
        ('job "x" { meta { a = nosuch("b") } }', "", 'Call to unknown function; There is no function named "nosuch".'),
        ('', "", "Missing job block; A job block is required"),
        ('job "a" {}\njob "b" {}', "", "Duplicate job block"),
    ],
    ids=["unclosed", "argument", "block", "undeclared", "unset", "duration", "function", "no-job",
         "two-jobs"],
)
def test_bad_jobspecs_say_why(text: str, variables: str, summary: str) -> None:
    with pytest.raises(JobspecError) as info:
        parse_jobspec(text, variables)
    assert str(info.value).startswith("input.hcl:")
    assert summary in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='job"{}=[]()\n ,.$ag0-9:#<>-EOF', max_size=80))
def test_any_text_parses_or_gives_a_diagnostic(text: str) -> None:
    try:
        job = parse_jobspec(text)
    except JobspecError as exc:
        assert str(exc).startswith("input.hcl:")
    else:
        assert isinstance(job["ID"], str)
        json.dumps(canonicalize(job))


# -- over HTTP -----------------------------------------------------------------------------------
@pytest.fixture
def api() -> httpx.Client:
    return http(new_cluster())


def test_parse_endpoint_answers_the_api_job(api: httpx.Client) -> None:
    request = json.loads((SAMPLES / "POST_v1_jobs_parse_request.json").read_text())
    sample = json.loads((SAMPLES / "POST_v1_jobs_parse.json").read_text())
    r = api.post("/v1/jobs/parse", json=request)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    got = r.json()
    assert set(sample) <= set(got), set(sample) - set(got)
    # the doc's sample is illustrative for ID, NodePool, TaskGroups and Update (see the samples'
    # README); every other field is what the request canonicalizes to
    for key in set(sample) - {"ID", "Name", "NodePool", "TaskGroups", "Update"}:
        assert got[key] == sample[key], key
    assert got["ID"] == "example" and got["TaskGroups"][0]["Name"] == "cache"
    assert got["NodePool"] == "" and got["Update"]["MaxParallel"] == 1


def test_parse_without_canonicalize_and_with_variables(api: httpx.Client) -> None:
    r = api.put("/v1/jobs/parse", json={"JobHCL": WEB, "Variables": 'replicas = 5'})
    assert r.status_code == 200
    job = r.json()
    assert job["Region"] is None and _group(job)["Count"] == 5


@pytest.mark.parametrize(
    ("method", "body", "status", "text"),
    [
        ("POST", {"JobHCL": ""}, 400, "Job spec is empty"),
        ("POST", {}, 400, "Job spec is empty"),
        ("POST", {"JobHCL": 'job "x" { nope = 1 }'}, 400,
         'Failed to parse job: input.hcl:1,1-2: Unsupported argument; An argument named "nope" is not expected here.'),
        ("POST", {"JobHCL": 5}, 400,
         "json: cannot unmarshal number into Go struct field JobsParseRequest.JobHCL of type string"),
        ("GET", None, 405, "Invalid method"),
        ("DELETE", None, 405, "Invalid method"),
    ],
    ids=["empty", "missing", "bad-hcl", "bad-json", "get", "delete"],
)
def test_parse_errors_are_nomads(api: httpx.Client, method: str, body: object, status: int, text: str) -> None:
    r = api.request(method, "/v1/jobs/parse", json=body)
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"].startswith("text/plain")


def test_a_parsed_job_registers_and_runs() -> None:
    cluster = new_cluster()
    api = http(cluster)
    parsed = api.post("/v1/jobs/parse", json={"JobHCL": WEB, "Canonicalize": True}).json()
    r = api.post("/v1/jobs", json={"Job": parsed})
    assert r.status_code == 200, r.text
    cluster.advance(30)
    job = api.get("/v1/job/web").json()
    tg = job["TaskGroups"][0]
    assert tg["Count"] == 2 and tg["Tasks"][0]["Config"]["image"] == "nginx:1.27"
    assert tg["Networks"][0]["ReservedPorts"][0]["Value"] == 8080
    running = [a for a in cluster.state.job_allocs("default", "web") if a["ClientStatus"] == "running"]
    assert len(running) == 2


def test_parse_needs_parse_job_or_submit_job() -> None:
    cluster = SimCluster(acl=True)
    api = http(cluster)
    cluster.acl.upsert_policy("ro", 'namespace "default" { policy = "read" }')
    cluster.acl.upsert_policy("none", 'namespace "default" { capabilities = ["list-jobs"] }')
    ro = cluster.acl.create_token(name="ro", policies=["ro"])["SecretID"]
    none = cluster.acl.create_token(name="none", policies=["none"])["SecretID"]
    body = {"JobHCL": 'job "x" {}'}
    assert api.post("/v1/jobs/parse", json=body, headers={"X-Nomad-Token": ro}).status_code == 200
    r = api.post("/v1/jobs/parse", json={"JobHCL": ""}, headers={"X-Nomad-Token": none})
    assert (r.status_code, r.text) == (403, "Permission denied"), "the token is checked before the body"
