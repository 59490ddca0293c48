"""The outage an agent sees while its store restarts or restores a table.

  outage_agent.py ADDRESS TOKEN_FILE AGENT SECONDS default|recommended CONFIG_JSON

Polls AGENT's inbox every 10 ms for SECONDS over a channel with gRPC's
default settings or with the recommended ones (examples/python/agent.py,
common/client/agent_channel.h), and prints as JSON the longest time between
two successful calls and how many calls failed. Run by agentcom_bench.
"""
import json
import sys
import time

import grpc
from agentcom.mailbox.v1 import mailbox_pb2 as pb, mailbox_pb2_grpc as rpc

address, token_file, agent, seconds, mode, config_path = sys.argv[1:7]
options = []
if mode == "recommended":
    options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 500), ("grpc.enable_retries", 1),
               ("grpc.service_config", json.dumps(json.load(open(config_path))))]
mailbox = rpc.MailboxStub(grpc.insecure_channel(address, options=options))
auth = [("authorization", "Bearer " + open(token_file).read().strip())]
end = time.monotonic() + float(seconds)
last_ok, longest, failed, calls = None, 0.0, 0, 0
while time.monotonic() < end:
    calls += 1
    try:
        mailbox.Poll(pb.PollRequest(agent_id=agent, max_messages=1), metadata=auth, timeout=10)
        now = time.monotonic()
        if last_ok is not None:
            longest = max(longest, now - last_ok)
        last_ok = now
    except grpc.RpcError:
        failed += 1
    time.sleep(0.01)
print(json.dumps({"longest_gap_s": longest, "failed_calls": failed, "calls": calls}), flush=True)
