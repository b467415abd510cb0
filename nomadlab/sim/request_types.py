"""The Go request types Nomad decodes each request body into, as :mod:`gojson` schemas.

Field names and Go types are those of Nomad's ``api`` package (``api/jobs.go``, ``api/tasks.go``,
``api/resources.go``, ``api/nodes.go``, ``api/scaling.go``, ``api/acl.go``) and, for node
eligibility, ``nomad/structs``. Only the fields the simulator reads are listed; other keys are
left unchecked (see :mod:`nomadlab.sim.gojson`).
"""

from __future__ import annotations

from .gojson import Map, Slice, Struct

__all__ = [
    "JOB_REGISTER", "JOB_PLAN", "JOB_EVALUATE", "SCALING", "NODE_DRAIN", "NODE_ELIGIBILITY",
    "ACL_POLICY", "ACL_TOKEN", "ACL_BOOTSTRAP", "JOB", "JOBS_PARSE", "JOB_REVERT", "JOB_STABLE", "JOB_DISPATCH",
    "ALLOC_RESTART", "ALLOC_SIGNAL", "SCHEDULER_CONFIG", "SEARCH", "DEPLOYMENT_PAUSE", "DEPLOYMENT_PROMOTE",
    "DEPLOYMENT_HEALTH",
]

STRINGS = Slice("string", "[]string")
STRING_MAP = Map("string", "map[string]string")
ANY_MAP = Map("any", "map[string]interface {}")
DURATION = "time.Duration"

CONSTRAINT = Struct("api.Constraint", {"LTarget": "string", "RTarget": "string", "Operand": "string"})
CONSTRAINTS = Slice(CONSTRAINT, "[]*api.Constraint")
RESTART = Struct("api.RestartPolicy", {"Interval": DURATION, "Attempts": "int", "Delay": DURATION,
                                       "Mode": "string", "RenderTemplates": "bool"})
RESCHEDULE = Struct("api.ReschedulePolicy", {
    "Attempts": "int", "Interval": DURATION, "Delay": DURATION, "DelayFunction": "string",
    "MaxDelay": DURATION, "Unlimited": "bool",
})
UPDATE = Struct("api.UpdateStrategy", {
    "Stagger": DURATION, "MaxParallel": "int", "HealthCheck": "string", "MinHealthyTime": DURATION,
    "HealthyDeadline": DURATION, "ProgressDeadline": DURATION, "Canary": "int", "AutoRevert": "bool",
    "AutoPromote": "bool",
})
MIGRATE = Struct("api.MigrateStrategy", {"MaxParallel": "int", "HealthCheck": "string",
                                         "MinHealthyTime": DURATION, "HealthyDeadline": DURATION})
DISK = Struct("api.EphemeralDisk", {"Sticky": "bool", "Migrate": "bool", "SizeMB": "int"})
RESOURCES = Struct("api.Resources", {
    "CPU": "int", "Cores": "int", "MemoryMB": "int", "MemoryMaxMB": "int", "DiskMB": "int", "IOPS": "int",
    "SecretsMB": "int",
})
TASK = Struct("api.Task", {
    "Name": "string", "Driver": "string", "User": "string", "Config": ANY_MAP, "Constraints": CONSTRAINTS,
    "Env": STRING_MAP, "Resources": RESOURCES, "RestartPolicy": RESTART, "Meta": STRING_MAP,
    "KillTimeout": DURATION, "Leader": "bool", "ShutdownDelay": DURATION, "KillSignal": "string",
    "Kind": "string",
})
SCALING_POLICY = Struct("api.ScalingPolicy", {"Min": "int64", "Max": "int64", "Enabled": "bool",
                                              "Policy": ANY_MAP, "Type": "string"})
TASK_GROUP = Struct("api.TaskGroup", {
    "Name": "string", "Count": "int", "Constraints": CONSTRAINTS, "Tasks": Slice(TASK, "[]*api.Task"),
    "RestartPolicy": RESTART, "ReschedulePolicy": RESCHEDULE, "EphemeralDisk": DISK, "Update": UPDATE,
    "Migrate": MIGRATE, "Meta": STRING_MAP, "ShutdownDelay": DURATION, "Scaling": SCALING_POLICY,
    "StopAfterClientDisconnect": DURATION, "MaxClientDisconnect": DURATION,
    "PreventRescheduleOnLost": "bool",
})
PERIODIC = Struct("api.PeriodicConfig", {"Enabled": "bool", "Spec": "string", "Specs": STRINGS,
                                         "SpecType": "string", "ProhibitOverlap": "bool", "TimeZone": "string"})
PARAMETERIZED = Struct("api.ParameterizedJobConfig", {"Payload": "string", "MetaRequired": STRINGS,
                                                      "MetaOptional": STRINGS})
JOB = Struct("api.Job", {
    "Region": "string", "Namespace": "string", "ID": "string", "Name": "string", "Type": "string",
    "Priority": "int", "AllAtOnce": "bool", "Datacenters": STRINGS, "NodePool": "string",
    "Constraints": CONSTRAINTS, "TaskGroups": Slice(TASK_GROUP, "[]*api.TaskGroup"), "Update": UPDATE,
    "Periodic": PERIODIC, "ParameterizedJob": PARAMETERIZED, "Reschedule": RESCHEDULE, "Migrate": MIGRATE,
    "Meta": STRING_MAP, "Stop": "bool", "ParentID": "string", "Dispatched": "bool", "Status": "string",
    "StatusDescription": "string", "Stable": "bool", "Version": "uint64", "SubmitTime": "int64",
    "CreateIndex": "uint64", "ModifyIndex": "uint64", "JobModifyIndex": "uint64",
})
SUBMISSION = Struct("api.JobSubmission", {"Source": "string", "Format": "string", "VariableFlags": STRING_MAP,
                                          "Variables": "string"})
_WRITE = {"Region": "string", "Namespace": "string", "SecretID": "string", "IdempotencyToken": "string"}
JOB_REGISTER = Struct("api.JobRegisterRequest", {
    "Job": JOB, "Submission": SUBMISSION, "EnforceIndex": "bool", "JobModifyIndex": "uint64",
    "PolicyOverride": "bool", "PreserveCounts": "bool", "PreserveResources": "bool", "EvalPriority": "int",
    **_WRITE,
})
JOB_PLAN = Struct("api.JobPlanRequest", {"Job": JOB, "Diff": "bool", "PolicyOverride": "bool", **_WRITE})
JOB_EVALUATE = Struct("api.JobEvaluateRequest", {
    "JobID": "string", "EvalOptions": Struct("api.EvalOptions", {"ForceReschedule": "bool"}), **_WRITE,
})
SCALING = Struct("api.ScalingRequest", {
    "Count": "int64", "Target": STRING_MAP, "Error": "bool", "Message": "string", "Meta": ANY_MAP,
    "PolicyOverride": "bool", "JobModifyIndex": "uint64", **_WRITE,
})
NODE_DRAIN = Struct("api.NodeUpdateDrainRequest", {
    "NodeID": "string", "DrainSpec": Struct("api.DrainSpec", {"Deadline": DURATION, "IgnoreSystemJobs": "bool"}),
    "MarkEligible": "bool", "Meta": STRING_MAP, **_WRITE,
})
NODE_ELIGIBILITY = Struct("structs.NodeUpdateEligibilityRequest", {
    "NodeID": "string", "Eligibility": "string", "UpdatedAt": "int64", "Region": "string", "Namespace": "string",
    "AuthToken": "string",
})
ACL_POLICY = Struct("api.ACLPolicy", {"Name": "string", "Description": "string", "Rules": "string",
                                      "CreateIndex": "uint64", "ModifyIndex": "uint64"})
ACL_TOKEN = Struct("api.ACLToken", {
    "AccessorID": "string", "SecretID": "string", "Name": "string", "Type": "string", "Policies": STRINGS,
    "Global": "bool", "ExpirationTTL": "any", "CreateIndex": "uint64", "ModifyIndex": "uint64",
})
ACL_BOOTSTRAP = Struct("api.BootstrapRequest", {"BootstrapSecret": "string"})
JOBS_PARSE = Struct("api.JobsParseRequest", {"JobHCL": "string", "HCLv1": "bool", "Variables": "string",
                                             "Canonicalize": "bool"})
JOB_REVERT = Struct("structs.JobRevertRequest", {"JobID": "string", "JobVersion": "uint64",
                                                 "EnforcePriorVersion": "uint64", **_WRITE})
JOB_STABLE = Struct("structs.JobStabilityRequest", {"JobID": "string", "JobVersion": "uint64", "Stable": "bool",
                                                    **_WRITE})
JOB_DISPATCH = Struct("structs.JobDispatchRequest", {
    "JobID": "string", "Payload": "string", "Meta": STRING_MAP, "IdPrefixTemplate": "string", "Priority": "int",
    **_WRITE,
})
ALLOC_RESTART = Struct("struct", {"TaskName": "string", "AllTasks": "bool"})
ALLOC_SIGNAL = Struct("structs.AllocSignalRequest", {"AllocID": "string", "Task": "string", "Signal": "string",
                                                     **_WRITE})
DEPLOYMENT_PAUSE = Struct("structs.DeploymentPauseRequest", {"DeploymentID": "string", "Pause": "bool", **_WRITE})
DEPLOYMENT_PROMOTE = Struct("structs.DeploymentPromoteRequest", {"DeploymentID": "string", "All": "bool",
                                                                 "Groups": STRINGS, **_WRITE})
DEPLOYMENT_HEALTH = Struct("structs.DeploymentAllocHealthRequest", {
    "DeploymentID": "string", "HealthyAllocationIDs": STRINGS, "UnhealthyAllocationIDs": STRINGS, **_WRITE,
})
SCHEDULER_CONFIG = Struct("structs.SchedulerConfiguration", {
    "SchedulerAlgorithm": "string", "MemoryOversubscriptionEnabled": "bool", "RejectJobRegistration": "bool",
    "PauseEvalBroker": "bool", "NodeLimitForFeasibilityChecks": "uint64",
    "PreemptionConfig": Struct("structs.PreemptionConfig", {
        "SystemSchedulerEnabled": "bool", "SysBatchSchedulerEnabled": "bool", "BatchSchedulerEnabled": "bool",
        "ServiceSchedulerEnabled": "bool"}),
})
SEARCH = Struct("structs.SearchRequest", {"Prefix": "string", "Context": "string", **_WRITE})
