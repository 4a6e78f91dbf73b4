#!/usr/bin/python3
"""Parses an RFC 5322 message with Python's email package and prints what a
mail client would show, as JSON: decoded headers and the text/html parts."""
import json
import sys
from email import policy
from email.parser import BytesParser

with open(sys.argv[1], "rb") as f:
    msg = BytesParser(policy=policy.default).parse(f)

out = {"headers": {k: str(v) for k, v in msg.items()},
       "raw_headers": {k: v for k, v in msg.raw_items()},
       "content_type": msg.get_content_type(),
       "parts": {}}
for part in msg.walk():
    if part.get_content_maintype() == "multipart":
        continue
    out["parts"][part.get_content_type()] = {
        "charset": part.get_content_charset(),
        "transfer_encoding": part.get("Content-Transfer-Encoding"),
        "content": part.get_content(),
    }
to = msg["To"]
out["to_name"] = to.addresses[0].display_name if to is not None else ""
out["to_address"] = to.addresses[0].addr_spec if to is not None else ""
out["from_name"] = msg["From"].addresses[0].display_name
print(json.dumps(out))
