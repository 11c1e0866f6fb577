#!/usr/bin/env python3
# tests/data/stream/make_events.py -- a scripted event sequence with the full state after each event.
"""Print (JSON) the steps tests/unit/test_statemodel.c replays.

Starts from tests/data/fake.json and changes it the way tests/integration/stream_master.py
does, so the v1 events and the /master/state documents come from the same code, not from
the C code under test.  Each step: {"name", "kind": "event" | "summary", "record": <the
JSON the stream (or /master/state-summary) sends>, "state": <the /master/state document
the model must then equal>}.  The model learns framework pids only from summaries, so
"state" carries the pids known at the last summary (a framework added since has none).
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import stream_master as sm  # noqa: E402

MARATHON = "20140703-014514-3041283216-5050-5348-0000"
CHRONOS = "20140703-014514-3041283216-5050-5348-0001"
AGENT0 = "20140916-194712-631065744-5050-4798-2"
AGENT3 = "20140803-194712-3041283216-5050-2116-3"
NEW_AGENT = "20150101-000000-1-5050-9-S9"
NEW_FW = "20150101-000000-1-5050-9-0042"


def slim(doc):
    """Only what mesos-dnsd reads: keeps the script's output short."""
    return {"leader": doc["leader"],
            "slaves": [{k: a[k] for k in ("id", "hostname", "pid") if k in a}
                       for a in doc["slaves"]],
            "frameworks": [{k: f[k] for k in ("id", "name", "hostname", "pid", "tasks") if k in f}
                           for f in doc["frameworks"]]}


def web_task(tid, name, agent, state="TASK_RUNNING", ip="10.9.0.1", ts=1600000000.0,
             ports="[31000-31001]", extra=None):
    t = {"id": tid, "name": name, "slave_id": agent, "state": state,
         "resources": {"cpus": 0.5, "mem": 64, "ports": ports},
         "statuses": [] if state != "TASK_RUNNING" else [
             {"state": "TASK_RUNNING", "timestamp": ts,
              "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": ip}]}]}}]}
    t.update(extra or {})
    return t


def main():
    with open(os.path.join(ROOT, "tests", "data", "fake.json")) as f:
        state = slim(json.load(f))
    sm.unique_task_ids(state)
    known = {}      # framework id -> pid, as of the last summary
    steps = []

    def expected():
        doc = copy.deepcopy(state)
        for fw in doc["frameworks"]:
            fw.pop("pid", None)
            if known.get(fw["id"]):
                fw["pid"] = known[fw["id"]]
        return doc

    def event(name, record):
        steps.append({"name": name, "kind": "event", "record": record, "state": expected()})

    def op(name, **kw):
        event(name, sm.apply_op(state, kw))

    def summary(name):
        known.clear()
        known.update({f["id"]: f.get("pid", "") for f in state["frameworks"]})
        steps.append({"name": name, "kind": "summary", "record": sm.summary(state),
                      "state": expected()})

    event("SUBSCRIBED snapshot of fake.json", sm.subscribed(state, 0.5))
    summary("state-summary brings the framework pids")
    op("TASK_ADDED: a running task with a netinfo address", op="task_add",
       framework_id=MARATHON, task=web_task("web.1", "web", AGENT0))
    op("TASK_ADDED: a staging task (no records yet)", op="task_add", framework_id=MARATHON,
       task=web_task("web.2", "web", AGENT3, state="TASK_STAGING", ports="[31010-31012]"))
    op("TASK_UPDATED: staging -> running, docker label address", op="task_update",
       framework_id=MARATHON, task_id="web.2", state="TASK_RUNNING",
       status={"state": "TASK_RUNNING", "timestamp": 1600000100.0,
               "labels": [{"key": "Docker.NetworkSettings.IPAddress", "value": "10.9.0.2"}]})
    op("TASK_UPDATED: a newer running status moves the address", op="task_update",
       framework_id=MARATHON, task_id="web.1", state="TASK_RUNNING",
       status={"state": "TASK_RUNNING", "timestamp": 1600000200.0,
               "container_status": {"network_infos": [
                   {"ip_addresses": [{"ip_address": "10.9.0.7"}, {"ip_address": "fd00::7"}]}]}})
    op("TASK_UPDATED: an older running status changes nothing", op="task_update",
       framework_id=MARATHON, task_id="web.1", state="TASK_RUNNING",
       status={"state": "TASK_RUNNING", "timestamp": 1500000000.0,
               "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "10.9.9.9"}]}]}})
    op("TASK_UPDATED: killed, the task goes", op="task_update", framework_id=MARATHON,
       task_id="web.2", state="TASK_KILLED")
    op("AGENT_ADDED: a new agent", op="agent_add",
       agent={"id": NEW_AGENT, "hostname": "10.8.0.9", "pid": "slave(1)@10.8.0.9:5051"})
    op("TASK_ADDED: a task with DiscoveryInfo on the new agent", op="task_add",
       framework_id=MARATHON,
       task=web_task("db.1", "db", NEW_AGENT, ip="10.9.0.3", ports="[31100-31100, 31200-31201]",
                     extra={"discovery": {"visibility": "FRAMEWORK", "name": "pg.main",
                                          "ports": {"ports": [
                                              {"number": 5432, "name": "sql", "protocol": "tcp"},
                                              {"number": 9187, "protocol": "udp"}]}}}))
    event("HEARTBEAT changes nothing", {"type": "HEARTBEAT"})
    event("an event type this version does not know is ignored",
          {"type": "OPERATION_UPDATED", "operation_updated": {}})
    op("AGENT_REMOVED: the new agent and its task go", op="agent_remove", id=NEW_AGENT)
    op("FRAMEWORK_ADDED: no pid yet, the hostname answers", op="framework_add",
       framework={"id": NEW_FW, "name": "Spark Jobs", "hostname": "10.7.0.5",
                  "pid": "scheduler-1@10.7.0.6:41000"})
    op("TASK_ADDED under the new framework", op="task_add", framework_id=NEW_FW,
       task=web_task("exec.1", "executor", AGENT0, ip="10.9.0.4", ports="[]"))
    summary("state-summary gives the new framework its pid")
    op("FRAMEWORK_UPDATED: renamed, keeps its pid and tasks", op="framework_update",
       framework={"id": NEW_FW, "name": "spark", "hostname": "10.7.0.5",
                  "pid": "scheduler-1@10.7.0.6:41000"})
    op("FRAMEWORK_REMOVED: chronos and its task go", op="framework_remove", id=CHRONOS)
    op("AGENT_REMOVED: an agent of fake.json with running tasks", op="agent_remove", id=AGENT3)
    json.dump({"steps": steps}, sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
