//! WS-Man envelopes: parsing recorded requests/responses/faults, and building
//! client requests and server responses that parse back.

mod common;

use eas_connector::wire::capture::Capture;
use eas_connector::wire::wsman::{
    self, ns, Body, Envelope, RequestContext, ResponseContext, StreamOut, WsManFault,
};
use eas_connector::wire::xml;
use uuid::Uuid;

#[test]
fn recorded_envelopes_parse_with_fields() {
    let recs = common::recordings();
    let mut faults = Vec::new();
    let mut envelopes = 0;
    for (name, text) in &recs {
        let cap = Capture::parse(text).unwrap();
        for item in &cap.items {
            for s in item.request.iter().chain(item.response.iter()) {
                let env =
                    Envelope::parse(s).unwrap_or_else(|e| panic!("{name} #{}: {e}", item.index));
                // The streaming parser agrees with the tree walk.
                let tree = xml::parse(s, &wsman::envelope::envelope_limits()).unwrap();
                assert_eq!(
                    Envelope::from_element(&tree).unwrap(),
                    env,
                    "{name} #{}",
                    item.index
                );
                assert!(env.header.action.is_some(), "{name}: no Action");
                envelopes += 1;
                if let Some(f) = env.fault() {
                    faults.push((name.clone(), f.clone()));
                }
            }
        }
    }
    println!("{envelopes} envelopes, {} faults", faults.len());
    if recs.is_empty() {
        return;
    }
    assert_eq!(faults.len(), 10);
    let (_, f) = faults
        .iter()
        .find(|(n, _)| n == "test_psrp_is_alive_invalid_selectors.yml")
        .unwrap();
    assert_eq!(f.code, "Sender");
    assert_eq!(f.subcode.as_deref(), Some("InvalidSelectors"));
    assert_eq!(f.wsman_code, Some(2_150_858_843));
    assert_eq!(f.provider.as_deref(), Some("Shell provider"));
    assert!(f.message.as_deref().unwrap().starts_with("The WS-Management service cannot process the request because the request contained invalid selectors"));
    assert_eq!(
        f.detail.as_deref(),
        Some("http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors")
    );
    let (_, f) = faults
        .iter()
        .find(|(n, _)| n == "test_winrs_operation_timeout.yml")
        .unwrap();
    assert!(f.is_timeout());
    let (_, f) = faults
        .iter()
        .find(|(n, _)| n == "test_winrs_fail_poll_process.yml")
        .unwrap();
    assert_eq!(f.wsman_code, Some(87));
    assert_eq!(f.message.as_deref(), Some("The parameter is incorrect."));
    // Header fields of a recorded request.
    let (_, text) = recs
        .iter()
        .find(|(n, _)| n == "test_client_execute_ps.yml")
        .unwrap();
    let cap = Capture::parse(text).unwrap();
    let env = Envelope::parse(cap.items[3].request.as_ref().unwrap()).unwrap();
    let h = &env.header;
    assert_eq!(h.action.as_deref(), Some(ns::action::COMMAND));
    assert_eq!(h.resource_uri.as_deref(), Some(ns::RESOURCE_POWERSHELL));
    assert_eq!(h.max_envelope_size, Some(512_000));
    assert_eq!(h.operation_timeout.as_deref(), Some("PT20S"));
    assert_eq!(h.shell_id(), Some("0533352D-95C5-4715-BF50-1F449FF1FC9B"));
    assert_eq!(h.option("WINRS_SKIP_CMD_SHELL"), Some("False"));
    assert_eq!(h.locale.as_deref(), Some("en-US"));
    assert!(
        matches!(&env.body, Body::Command { command_id: Some(c), arguments, .. } if c == "F91BD61F-CEC7-47A3-8CE3-DE7EB7AA5773" && arguments.len() == 1)
    );
    let resp = Envelope::parse(cap.items[4].response.as_ref().unwrap()).unwrap();
    match resp.body {
        Body::ReceiveResponse {
            streams,
            command_state,
        } => {
            assert!(!streams.is_empty());
            assert_eq!(streams[0].name, "stdout");
            let cs = command_state.unwrap();
            assert!(cs.is_done());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resp.header
            .relates_to
            .as_deref()
            .map(|s| s.starts_with("uuid:")),
        Some(true)
    );
}

#[test]
fn prefixes_do_not_matter() {
    let xml = r#"<E:Envelope xmlns:E="http://www.w3.org/2003/05/soap-envelope" xmlns:addr="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><E:Header><addr:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal</addr:Action></E:Header><E:Body><Signal CommandId="X"><Code>powershell/signal/crtl_c</Code></Signal></E:Body></E:Envelope>"#;
    let env = Envelope::parse(xml).unwrap();
    assert_eq!(
        env.body,
        Body::Signal {
            command_id: Some("X".into()),
            code: Some("powershell/signal/crtl_c".into())
        }
    );
}

fn ids() -> (Uuid, Uuid, Uuid) {
    (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3))
}

#[test]
fn client_requests_build_and_parse() {
    let (mid, shell, cmd) = ids();
    let ctx = RequestContext {
        session_id: Some(Uuid::from_u128(9)),
        ..RequestContext::exchange("https://cas.example.com/PowerShell")
    };
    let env = Envelope::parse(&ctx.create_shell(mid, shell, b"\x00\x01frag", "2.3")).unwrap();
    assert_eq!(env.header.action.as_deref(), Some(ns::action::CREATE));
    assert_eq!(
        env.header.resource_uri.as_deref(),
        Some(ns::RESOURCE_EXCHANGE)
    );
    assert_eq!(
        env.header.to.as_deref(),
        Some("https://cas.example.com/PowerShell")
    );
    assert_eq!(env.header.option("protocolversion"), Some("2.3"));
    assert_eq!(env.header.options[0].must_comply, Some(true));
    assert_eq!(
        env.header.message_id.as_deref(),
        Some("uuid:00000000-0000-0000-0000-000000000001")
    );
    assert_eq!(
        env.header.session_id.as_deref(),
        Some("uuid:00000000-0000-0000-0000-000000000009")
    );
    match env.body {
        Body::CreateShell(s) => {
            assert_eq!(s.creation_xml.as_deref(), Some(&b"\x00\x01frag"[..]));
            assert_eq!(s.input_streams.as_deref(), Some("stdin pr"));
        }
        other => panic!("{other:?}"),
    }
    let env = Envelope::parse(&ctx.command(mid, shell, cmd, b"args")).unwrap();
    assert_eq!(
        env.header.shell_id(),
        Some("00000000-0000-0000-0000-000000000002")
    );
    assert!(
        matches!(env.body, Body::Command { command_id: Some(ref c), ref arguments, .. } if c == "00000000-0000-0000-0000-000000000003" && arguments == &["YXJncw==".to_string()])
    );
    let env = Envelope::parse(&ctx.send(mid, shell, Some(cmd), "stdin", b"in")).unwrap();
    assert!(matches!(env.body, Body::Send(ref s) if s[0].data == b"in" && s[0].name == "stdin"));
    let env = Envelope::parse(&ctx.receive(mid, shell, Some(cmd), "stdout")).unwrap();
    assert!(
        matches!(env.body, Body::Receive { ref streams, ref command_id } if streams.as_deref() == Some("stdout") && command_id.is_some())
    );
    let env = Envelope::parse(&ctx.signal(mid, shell, cmd, ns::signal::TERMINATE)).unwrap();
    assert!(
        matches!(env.body, Body::Signal { ref code, .. } if code.as_deref() == Some(ns::signal::TERMINATE))
    );
    let env = Envelope::parse(&ctx.delete(mid, shell)).unwrap();
    assert_eq!(env.body, Body::Empty);
    assert_eq!(env.header.action.as_deref(), Some(ns::action::DELETE));
}

#[test]
fn server_responses_build_and_parse() {
    let rc = ResponseContext {
        message_id: Uuid::from_u128(5),
        relates_to: "uuid:ABC".into(),
    };
    let env = Envelope::parse(&wsman::create_response(
        &rc,
        "https://lab/PowerShell",
        ns::RESOURCE_EXCHANGE,
        "SHELL-1",
    ))
    .unwrap();
    assert_eq!(env.header.relates_to.as_deref(), Some("uuid:ABC"));
    assert!(
        matches!(env.body, Body::Created { ref shell_id, ref resource_uri, .. } if shell_id.as_deref() == Some("SHELL-1") && resource_uri.as_deref() == Some(ns::RESOURCE_EXCHANGE))
    );
    let env = Envelope::parse(&wsman::command_response(&rc, "CMD")).unwrap();
    assert_eq!(
        env.body,
        Body::CommandResponse {
            command_id: Some("CMD".into())
        }
    );
    assert_eq!(
        Envelope::parse(&wsman::send_response(&rc)).unwrap().body,
        Body::SendResponse
    );
    assert_eq!(
        Envelope::parse(&wsman::signal_response(&rc)).unwrap().body,
        Body::SignalResponse
    );
    assert_eq!(
        Envelope::parse(&wsman::delete_response(&rc)).unwrap().body,
        Body::Empty
    );
    let out = [StreamOut {
        name: "stdout",
        command_id: Some("CMD"),
        end: true,
        data: b"abc",
    }];
    let env = Envelope::parse(&wsman::receive_response(
        &rc,
        &out,
        Some(("CMD", ns::command_state::DONE, Some(0))),
    ))
    .unwrap();
    match env.body {
        Body::ReceiveResponse {
            streams,
            command_state,
        } => {
            assert_eq!(streams[0].data, b"abc");
            assert!(streams[0].end);
            let cs = command_state.unwrap();
            assert!(cs.is_done());
            assert_eq!(cs.exit_code, Some(0));
        }
        other => panic!("{other:?}"),
    }
    for provider in [None, Some("Shell provider".to_string())] {
        let f = WsManFault {
            code: "Sender".into(),
            subcode: Some("InvalidSelectors".into()),
            reason: Some("invalid selectors <x>".into()),
            detail: Some(
                "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors".into(),
            ),
            wsman_code: Some(2_150_858_843),
            machine: Some("lab".into()),
            message: Some("The request contained invalid selectors & more.".into()),
            provider,
        };
        let env = Envelope::parse(&wsman::fault_response(&rc, &f)).unwrap();
        assert_eq!(env.fault(), Some(&f));
        let err = env.into_result().unwrap_err();
        assert!(
            err.to_string()
                .contains("InvalidSelectors (code 2150858843)"),
            "{err}"
        );
    }
}
