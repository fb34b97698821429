//! The real `eas-connector lab` binary's Microsoft cloud driven by independent Python clients
//! (`tests/peers/msal_graph_lab.py`): MSAL for Python (PyPI `msal`) gets tokens from the lab's
//! Entra with the secret, the certificate (RS256/`x5t` and PS256/`x5t#S256`) and the PFX;
//! Microsoft's Graph SDK (PyPI `msgraph-sdk`) pages managedDevices with them; PyJWT-signed
//! client assertions that are tampered with (wrong key, audience, issuer, algorithm, expired,
//! replayed) are refused with Entra's codes; the switches (429 + `Retry-After`, 503 and
//! refused outages, permission, secret and token expiry, one device's compliance) act as
//! documented. Required when `EAS_TEST_PEERS=1` (scripts/test installs the packages), skipped
//! with a note otherwise.

mod support;

use support::LabProc;

use std::path::Path;
use std::process::Command;

fn peers() -> bool {
    support::python_module("msal", "msal")
        && support::python_module("msgraph", "msgraph-sdk")
        && support::python_module("jwt", "PyJWT")
}

fn run(lab: &LabProc, top: usize) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/msal_graph_lab.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(lab.dir.path())
        .env("LAB_GRAPH_TOP", top.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "msal_graph_lab.py failed:\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn msal_and_the_graph_sdk_sign_in_and_page_every_managed_device_once() {
    if !peers() {
        return;
    }
    let lab = LabProc::start(&["--servers", "1", "--devices", "3000"]);
    let r = run(&lab, 250);
    let ok = |k: &str| assert_eq!(r[k]["ok"], true, "{k}: {}", r[k]);
    for k in [
        "secret",
        "secret_by_domain",
        "certificate_rs256",
        "certificate_ps256",
        "pfx",
    ] {
        ok(k);
        assert_eq!(r[k]["token_type"], "Bearer");
        assert_eq!(r[k]["expires_in"], 3599);
    }
    assert_eq!(r["wrong_secret"]["error"], "invalid_client", "{r}");
    assert_eq!(r["wrong_secret"]["error_codes"][0], 7000215, "{r}");
    assert_eq!(r["thumbprint_matches"], true);

    // Every record once, over several pages, with Graph's spellings.
    let n = r["graph_devices"].as_u64().unwrap();
    assert_eq!(r["graph_unique_ids"], n, "{r}");
    assert!(n > 2000, "{r}");
    assert_eq!(r["graph_pages"], n.div_ceil(250), "{r}");
    assert!(r["graph_context"]
        .as_str()
        .unwrap()
        .ends_with("/v1.0/$metadata#deviceManagement/managedDevices(id,easDeviceId,easActivated,complianceState,userPrincipalName,lastSyncDateTime,managementState,deviceName,operatingSystem)"));
    assert_eq!(
        r["graph_states"],
        serde_json::json!([
            "compliant",
            "configManager",
            "conflict",
            "error",
            "inGracePeriod",
            "noncompliant",
            "unknown"
        ])
    );
    assert_eq!(r["graph_last_sync_is_utc"], true);
    // Consistent with the lab's Exchange: EAS ids are its devices; some are not enrolled;
    // some records carry no EAS id; some EAS ids come in lower case.
    assert_eq!(r["graph_eas_not_in_exchange"], 0, "{r}");
    assert!(r["exchange_not_enrolled"].as_u64().unwrap() > 200, "{r}");
    assert!(r["graph_with_eas"].as_u64().unwrap() < n, "{r}");
    assert!(r["graph_eas_lower_case"].as_u64().unwrap() > 100, "{r}");

    assert_eq!(
        r["tampered_token"],
        serde_json::json!([401, "InvalidAuthenticationToken"])
    );
    assert_eq!(
        r["no_token"],
        serde_json::json!([401, "InvalidAuthenticationToken"])
    );

    // Client assertions made with PyJWT.
    let refused = |k: &str, code: u64| {
        assert_eq!(
            r[k],
            serde_json::json!([401, "invalid_client", code]),
            "{k}: {r}"
        )
    };
    assert_eq!(r["assertion_good"][0], 200, "{r}");
    assert_eq!(r["assertion_rs256"][0], 200, "{r}");
    refused("assertion_reused_jti", 50013);
    refused("assertion_wrong_key", 700027);
    refused("assertion_wrong_aud", 700023);
    refused("assertion_expired", 700024);
    refused("assertion_wrong_iss", 700021);
    refused("assertion_hs256", 5002738);

    // Switches.
    assert_eq!(
        r["throttled"],
        serde_json::json!([429, "0", "TooManyRequests", 429, 200])
    );
    assert_eq!(r["sdk_after_throttle"], n, "{r}");
    assert_eq!(r["sdk_throttled_requests"], 4, "{r}");
    assert_eq!(
        r["outage_503"],
        serde_json::json!([503, "ServiceUnavailable"])
    );
    assert_eq!(r["outage_refused"], "refused");
    assert_eq!(r["after_outage"], 200);
    assert_eq!(
        r["permission_revoked"],
        serde_json::json!([403, "Authorization_RequestDenied"])
    );
    assert_eq!(r["permission_granted"], 200);
    assert_eq!(r["secret_expired"], serde_json::json!([7000222]));
    assert_eq!(
        r["token_expired"],
        serde_json::json!([
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired."
        ])
    );
    assert_eq!(r["compliance_switch"], "error");
}
