"""An agent that gets its mail pushed: prints each message, then acks it.

  agent.py ADDRESS TOKEN_FILE AGENT_ID [COUNT]

Watch first replays what is in the inbox, then pushes each new message as
it is committed. After any end of the stream (a restore of the table, a
restart of the store) it resumes after the last seq it saw, so it misses
nothing. Stops after COUNT messages when given.
"""
import json
import os
import sys
import time

import grpc
from agentcom.mailbox.v1 import mailbox_pb2 as pb, mailbox_pb2_grpc as rpc

address, token_file, agent = sys.argv[1:4]
count = int(sys.argv[4]) if len(sys.argv) > 4 else None
auth = [("authorization", "Bearer " + open(token_file).read().strip())]
# The recommended channel settings (README "Recovery as an agent sees it"):
# reconnect quickly, wait for the store instead of failing while it restarts,
# retry reads on UNAVAILABLE.
config = open(os.path.join(os.path.dirname(__file__), "..", "agent_service_config.json")).read()
options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
           ("grpc.max_reconnect_backoff_ms", 500), ("grpc.enable_retries", 1),
           ("grpc.service_config", json.dumps(json.loads(config)))]
mailbox = rpc.MailboxStub(grpc.insecure_channel(address, options=options))
last, seen = 0, 0
while count is None or seen < count:
    try:
        for page in mailbox.Watch(pb.WatchRequest(agent_id=agent, after_seq=last), metadata=auth):
            for m in page.messages:
                print(m.seq, m.body.decode(), flush=True)
                last, seen = m.seq, seen + 1
            mailbox.Ack(pb.AckRequest(agent_id=agent, up_to_seq=last), metadata=auth)
            if count is not None and seen >= count:
                break
    except grpc.RpcError as e:
        if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            sys.exit(f"watch failed: {e.code().name}: {e.details()}")
        time.sleep(0.1)  # the store is restarting or restoring; resume after `last`
