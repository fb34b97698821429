#!/usr/bin/env python3
"""exchangelib (PyPI), an EWS client no one here wrote, against the lab's EWS.

Usage: exchangelib_lab.py STATE_DIR TO_ADDRESS
Reads STATE_DIR/lab.json; signs in as the notification account over NTLM, learns the server
version (exchangelib probes with ConvertId), reads the inbox and Sent Items counts, sends one
mail with SendAndSaveCopy (to TO_ADDRESS and itself), counts and finds it in Sent Items and
the inbox, and calls one operation the lab does not
implement. Prints one JSON object with the results.
"""
import json
import sys

from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials, Mailbox, Message
from exchangelib.errors import EWSError
from exchangelib.protocol import BaseProtocol


def main():
    info = json.load(open(f"{sys.argv[1]}/lab.json"))
    to = sys.argv[2]
    acc = info["accounts"]["notification"]
    ca = info["ca_file"]

    class LabCaAdapter(__import__("requests").adapters.HTTPAdapter):
        def cert_verify(self, conn, url, verify, cert):
            super().cert_verify(conn, url, ca, cert)

    BaseProtocol.HTTP_ADAPTER_CLS = LabCaAdapter
    url = info["servers"][0]["url"] + "/EWS/Exchange.asmx"
    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(acc["user"], acc["password"]),
        auth_type=NTLM,
        max_connections=1,
    )
    account = Account(
        primary_smtp_address=acc["mailbox"], config=config, autodiscover=False, access_type=DELEGATE
    )
    result = {"build": str(account.version.build), "api_version": account.version.api_version}
    result["inbox_total"] = account.inbox.total_count
    result["sent_before"] = account.sent.total_count
    m = Message(
        account=account,
        subject="exchangelib to the lab",
        body="Sent by exchangelib.",
        to_recipients=[Mailbox(email_address=to), Mailbox(email_address=acc["mailbox"])],
    )
    m.send_and_save()
    account.sent.refresh()
    account.inbox.refresh()
    result["sent_after"] = account.sent.total_count
    result["inbox_after"] = account.inbox.total_count
    result["sent_subjects"] = [i.subject for i in account.sent.all().order_by("-datetime_sent")[:10]]
    result["inbox_subjects"] = [i.subject for i in account.inbox.all()[:10]]
    # An operation the lab does not implement: the error must come as Exchange's.
    try:
        list(account.protocol.get_roomlists())
        result["unimplemented"] = "answered"
    except EWSError as e:
        result["unimplemented"] = type(e).__name__
    json.dump(result, sys.stdout)


main()
