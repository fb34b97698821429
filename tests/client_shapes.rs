//! Phase 2: our client request sequence has the same shape as recorded
//! client requests (wsa:Action sequence, header element set, option names,
//! PSRP message types in payloads) — GUIDs, timestamps and message ids aside.

mod common;

use eas_connector::wire::capture::{Capture, Direction};
use eas_connector::wire::psrp::objects::{
    Command, CreatePipeline, InitRunspacePool, ProtocolVersion,
};
use eas_connector::wire::session::ClientSession;
use eas_connector::wire::wsman::{ns, Envelope, RequestContext};
use uuid::Uuid;

#[derive(Debug, PartialEq)]
struct Shape {
    action: String,
    header_elements: Vec<String>,
    option_names: Vec<String>,
    psrp_types: Vec<String>,
}

fn shapes(requests: &[String]) -> Vec<Shape> {
    // Build a capture with requests only, so PSRP message types come from
    // the same reassembly path as real captures.
    let yaml: String = std::iter::once("messages:\n".to_string())
        .chain(
            requests
                .iter()
                .map(|r| format!("- request: '{}'\n  response: null\n", r.replace('\'', "''"))),
        )
        .collect();
    let cap = Capture::parse(&yaml).unwrap();
    let msgs = cap.messages().unwrap();
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let env = Envelope::parse(r).unwrap();
            let mut header_elements = env.header.element_names.clone();
            header_elements.sort();
            Shape {
                action: env.header.action.unwrap_or_default(),
                header_elements,
                option_names: env.header.options.iter().map(|o| o.name.clone()).collect(),
                psrp_types: msgs
                    .iter()
                    .filter(|m| m.index == i && m.direction == Direction::Request)
                    .map(|m| m.message.message_type.name())
                    .collect(),
            }
        })
        .collect()
}

fn ours_for(actions: &[String]) -> Vec<String> {
    let ctx = RequestContext {
        resource_uri: ns::RESOURCE_POWERSHELL.into(),
        session_id: Some(Uuid::from_u128(77)),
        ..RequestContext::exchange("https://127.0.0.1:55986/wsman")
    };
    let mut s = ClientSession::new(ctx, Uuid::from_u128(1), ProtocolVersion::V2_3);
    let pipeline_id = Uuid::from_u128(2);
    let mut started = false;
    actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mid = Uuid::from_u128(100 + i as u128);
            match a.rsplit('/').next().unwrap() {
                "Create" => s.open(mid, &InitRunspacePool::default()).unwrap(),
                "Receive" => s.receive(mid, started.then_some(pipeline_id)),
                "Command" => {
                    started = true;
                    let p =
                        CreatePipeline::new(vec![Command::new("Get-Service").arg("Name", "winrm")]);
                    s.run(mid, pipeline_id, &p).unwrap()
                }
                "Signal" => s.terminate(mid, pipeline_id),
                "Delete" => s.close(mid),
                other => panic!("no builder for {other}"),
            }
        })
        .collect()
}

#[test]
fn our_requests_match_recorded_client_shapes() {
    let recs = common::recordings();
    let mut checked = 0;
    for want in ["test_psrp_open_runspace.yml", "test_client_execute_ps.yml"] {
        let Some((_, text)) = recs.iter().find(|(n, _)| n == want) else {
            continue;
        };
        let cap = Capture::parse(text).unwrap();
        let recorded: Vec<String> = cap.items.iter().filter_map(|i| i.request.clone()).collect();
        let rec_shapes = shapes(&recorded);
        let actions: Vec<String> = rec_shapes.iter().map(|s| s.action.clone()).collect();
        let ours = ours_for(&actions);
        let our_shapes = shapes(&ours);
        for (i, (r, o)) in rec_shapes.iter().zip(&our_shapes).enumerate() {
            assert_eq!(o, r, "{want}: request {i} differs");
        }
        assert_eq!(our_shapes.len(), rec_shapes.len());
        println!("{want}: {} requests match ({actions:?})", ours.len());
        checked += 1;
    }
    if !recs.is_empty() {
        assert_eq!(checked, 2);
    }
}
