"""Independent clients against the lab's Microsoft cloud (tests/lab_cloud_peers.rs runs this).

Usage: msal_graph_lab.py <lab state folder>

- MSAL for Python (PyPI `msal`) acquires app-only tokens from the lab's Entra with the client
  secret, with the certificate (PEM key + SHA-1 thumbprint: RS256/x5t) and with the PFX
  (PS256/x5t#S256), against the lab's authority with instance discovery off.
- Microsoft's Graph SDK (PyPI `msgraph-sdk`, kiota + httpx) pages managedDevices with that
  token through @odata.nextLink, with $select and $top.
- PyJWT + cryptography sign client assertions by hand: a good one is accepted once, and a
  wrong key, a wrong audience, an expired one, a reused jti and a wrong issuer are refused.

Prints one JSON report on stdout; the Rust test checks it.
"""

import asyncio
import json
import os
import sys
import time
import uuid

import jwt
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

state = sys.argv[1]
lab = json.load(open(os.path.join(state, "lab.json")))
cloud = lab["cloud"]
ca = lab["ca_file"]
# requests lets these variables override a session's `verify` (MSAL's `verify=` included).
for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ[var] = ca
authority = cloud["authority"] + "/" + cloud["tenant_id"]
scope = [cloud["graph_url"] + "/.default"]
report = {}


def app(credential, tenant=None):
    return msal.ConfidentialClientApplication(
        cloud["application_id"],
        client_credential=credential,
        authority=cloud["authority"] + "/" + (tenant or cloud["tenant_id"]),
        instance_discovery=False,
        verify=ca,
    )


def acquire(name, credential, tenant=None):
    r = app(credential, tenant).acquire_token_for_client(scopes=scope)
    report[name] = {
        "ok": "access_token" in r,
        "token_type": r.get("token_type"),
        "expires_in": r.get("expires_in"),
        "error": r.get("error"),
        "error_codes": r.get("error_codes"),
    }
    return r.get("access_token")


secret = open(cloud["client_secret_file"]).read()
key_pem = open(cloud["private_key_file"]).read()
cert_pem = open(cloud["certificate_file"]).read()
cert = x509.load_pem_x509_certificate(cert_pem.encode())
sha1 = cert.fingerprint(hashes.SHA1()).hex()

token = acquire("secret", secret)
acquire("secret_by_domain", secret, tenant=cloud["tenant_domain"])
acquire("wrong_secret", secret[:-1] + ("A" if secret[-1] != "A" else "B"))
acquire("certificate_rs256", {"private_key": key_pem, "thumbprint": sha1})
acquire("certificate_ps256", {"private_key": key_pem, "public_certificate": cert_pem})
acquire(
    "pfx",
    {"private_key_pfx_path": cloud["pfx_file"], "passphrase": cloud["pfx_password"]},
)
report["thumbprint_matches"] = sha1.upper() == cloud["certificate_thumbprint"]

# msgraph-sdk pages managedDevices with the token MSAL got.
from azure.core.credentials import AccessToken  # noqa: E402
from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
from msgraph import GraphServiceClient  # noqa: E402
from msgraph.generated.device_management.managed_devices.managed_devices_request_builder import (  # noqa: E402
    ManagedDevicesRequestBuilder,
)
from msgraph_core import GraphClientFactory  # noqa: E402
import httpx  # noqa: E402


class StaticToken:
    """An azure-core TokenCredential with the token MSAL acquired."""

    def __init__(self, token):
        self.token = token

    async def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3000)

    async def close(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        pass


async def page_devices(top):
    from msgraph import GraphRequestAdapter
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )

    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ca)
    )
    auth = AzureIdentityAuthenticationProvider(
        StaticToken(token),
        scopes=scope,
        allowed_hosts=[cloud["graph_url"].split("//")[1].split(":")[0]],
    )
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = cloud["graph_url"] + "/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    q = ManagedDevicesRequestBuilder.ManagedDevicesRequestBuilderGetQueryParameters(
        select=[
            "id",
            "easDeviceId",
            "easActivated",
            "complianceState",
            "userPrincipalName",
            "lastSyncDateTime",
            "managementState",
            "deviceName",
            "operatingSystem",
        ],
        top=top,
    )
    first = await client.device_management.managed_devices.get(
        request_configuration=RequestConfiguration(query_parameters=q)
    )
    # Follow @odata.nextLink as the SDK's docs show: with_url(next_link).get().
    devices = list(first.value)
    pages = 1
    link = first.odata_next_link
    while link:
        page = await client.device_management.managed_devices.with_url(link).get()
        devices.extend(page.value)
        pages += 1
        link = page.odata_next_link
    report.setdefault("graph_pages", pages)
    report.setdefault("graph_context", first.additional_data.get("@odata.context"))
    return devices


devices = asyncio.run(page_devices(int(os.environ.get("LAB_GRAPH_TOP", "1000"))))
ids = [d.id for d in devices]
report["graph_devices"] = len(devices)
report["graph_unique_ids"] = len(set(ids))
report["graph_states"] = sorted({d.compliance_state.value for d in devices})
report["graph_management_states"] = sorted({d.management_state.value for d in devices})
report["graph_with_eas"] = sum(1 for d in devices if d.eas_device_id)
report["graph_eas_ids"] = sorted({d.eas_device_id.upper() for d in devices if d.eas_device_id})
report["graph_last_sync_is_utc"] = all(
    d.last_sync_date_time is not None and d.last_sync_date_time.utcoffset().total_seconds() == 0
    for d in devices
)

# Raw Graph checks: bad token, no token.
graph = cloud["graph_url"] + "/v1.0/deviceManagement/managedDevices"
r = requests.get(graph, headers={"Authorization": "Bearer " + token[:-4] + "AAAA"}, verify=ca)
report["tampered_token"] = [r.status_code, r.json()["error"]["code"]]
r = requests.get(graph, verify=ca)
report["no_token"] = [r.status_code, r.json()["error"]["code"]]

# Hand-made client assertions (PyJWT): what Entra must refuse.
token_url = authority + "/oauth2/v2.0/token"
private_key = serialization.load_pem_private_key(key_pem.encode(), None)
x5t = jwt.utils.base64url_encode(cert.fingerprint(hashes.SHA1())).decode()
x5t256 = jwt.utils.base64url_encode(cert.fingerprint(hashes.SHA256())).decode()


def assertion(key=private_key, aud=token_url, iss=None, exp_in=600, jti=None, alg="PS256"):
    now = int(time.time())
    claims = {
        "aud": aud,
        "iss": iss or cloud["application_id"],
        "sub": iss or cloud["application_id"],
        "jti": jti or str(uuid.uuid4()),
        "nbf": now - 30 if exp_in > 0 else now - 7200,
        "iat": now - 30 if exp_in > 0 else now - 7200,
        "exp": now + exp_in,
    }
    headers = {"x5t#S256": x5t256} if alg == "PS256" else {"x5t": x5t}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def post(a):
    r = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": cloud["application_id"],
            "scope": scope[0],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": a,
        },
        verify=ca,
    )
    body = r.json()
    return [r.status_code, body.get("error"), (body.get("error_codes") or [None])[0]]


other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
good = assertion(jti="lab-jti-1")
report["assertion_good"] = post(good)
report["assertion_reused_jti"] = post(good)
report["assertion_rs256"] = post(assertion(alg="RS256"))
report["assertion_wrong_key"] = post(assertion(key=other_key))
report["assertion_wrong_aud"] = post(assertion(aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"))
report["assertion_expired"] = post(assertion(exp_in=-3600))
report["assertion_wrong_iss"] = post(assertion(iss=str(uuid.uuid4())))
report["assertion_hs256"] = post(jwt.encode({"aud": token_url}, "k" * 32, algorithm="HS256", headers={"x5t": x5t}))

# Consistency with the lab's Exchange: every EAS id Graph lists is an ActiveSync device of
# the org, and some ActiveSync devices are not enrolled (no record).
control = lab["control"]
ctl = requests.Session()
ctl.headers["Authorization"] = "Bearer " + control["token"]
exchange_ids = {d["device_id"].upper() for d in ctl.get(control["url"] + "/devices").json()}
graph_eas = set(report["graph_eas_ids"])
report["graph_eas_not_in_exchange"] = len(graph_eas - exchange_ids)
report["exchange_not_enrolled"] = len(exchange_ids - graph_eas)
report["graph_eas_lower_case"] = sum(1 for d in devices if d.eas_device_id.islower())
del report["graph_eas_ids"]

# The switches, through the control endpoint, seen by raw requests and by the Graph SDK.
def graph_get(tok=None):
    return requests.get(
        graph + "?$top=5&$select=id",
        headers={"Authorization": "Bearer " + (tok or token)},
        verify=ca,
    )


ctl.post(control["url"] + "/cloud/throttle?count=2")
r1, r2, r3 = graph_get(), graph_get(), graph_get()
report["throttled"] = [r1.status_code, r1.headers.get("Retry-After"), r1.json()["error"]["code"], r2.status_code, r3.status_code]
# The SDK's retry handler honours 429 + Retry-After: 0 and gets the page on its own.
ctl.post(control["url"] + "/cloud/throttle?count=2&retry_after=0")
report["sdk_after_throttle"] = len(asyncio.run(page_devices(1000)))
report["sdk_throttled_requests"] = ctl.get(control["url"] + "/cloud").json()["requests_throttled"]

ctl.post(control["url"] + "/cloud/outage?mode=503")
r = graph_get()
report["outage_503"] = [r.status_code, r.json()["error"]["code"]]
ctl.post(control["url"] + "/cloud/outage?mode=refuse")
try:
    graph_get()
    report["outage_refused"] = "answered"
except requests.exceptions.ConnectionError:
    report["outage_refused"] = "refused"
ctl.post(control["url"] + "/cloud/outage?mode=off")
report["after_outage"] = graph_get().status_code

ctl.post(control["url"] + "/cloud/permission?granted=0")
r = graph_get()
report["permission_revoked"] = [r.status_code, r.json()["error"]["code"]]
ctl.post(control["url"] + "/cloud/permission?granted=1")
report["permission_granted"] = graph_get().status_code

ctl.post(control["url"] + "/cloud/secret?expired=1")
report["secret_expired"] = acquire("secret_expired_msal", secret) is None and report["secret_expired_msal"]["error_codes"]
ctl.post(control["url"] + "/cloud/secret?expired=0")

ctl.post(control["url"] + "/cloud/tokens/expire")
r = graph_get()
report["token_expired"] = [r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]]

# A device's compliance changed through the control endpoint shows in Graph.
fresh = app(secret).acquire_token_for_client(scopes=scope)["access_token"]
some = next(d for d in devices if d.eas_device_id)
ctl.post(control["url"] + "/cloud/devices/" + some.eas_device_id + "?complianceState=error")
r = requests.get(graph + "?$select=id,complianceState", headers={"Authorization": "Bearer " + fresh}, verify=ca).json()
pages = [r]
while "@odata.nextLink" in pages[-1]:
    pages.append(requests.get(pages[-1]["@odata.nextLink"], headers={"Authorization": "Bearer " + fresh}, verify=ca).json())
report["compliance_switch"] = next(
    d["complianceState"] for p in pages for d in p["value"] if d["id"] == some.id
)

print(json.dumps(report))
