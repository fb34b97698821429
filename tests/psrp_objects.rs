//! PSRP object builders and readers (client and lab-server sides).

mod common;

use eas_connector::wire::capture::Capture;
use eas_connector::wire::clixml::{from_clixml, to_clixml, ErrorRecord, ErrorRecordBuilder, Value};
use eas_connector::wire::psrp::objects::{
    application_private_data, pipeline_output, pipeline_state, runspace_pool_state, Command,
    CreatePipeline, InitRunspacePool, Parameter, ProtocolVersion, SessionCapability, StateInfo,
};
use eas_connector::wire::psrp::{Message, MessageType};
use uuid::Uuid;

fn rt(v: &Value) -> Value {
    from_clixml(&to_clixml(v)).unwrap()
}

#[test]
fn session_capability_and_init_runspace_pool() {
    for p in [
        ProtocolVersion::V2_1,
        ProtocolVersion::V2_2,
        ProtocolVersion::V2_3,
    ] {
        let sc = SessionCapability::new(p);
        let back = SessionCapability::from_value(&rt(&sc.to_value())).unwrap();
        assert_eq!(back, sc);
        assert_eq!(back.protocol(), Some(p));
    }
    let init = InitRunspacePool {
        application_arguments: Some(vec![("Tenant".into(), Value::string("contoso"))]),
        ..InitRunspacePool::default()
    };
    let v = rt(&init.to_value());
    assert_eq!(InitRunspacePool::from_value(&v).unwrap(), init);
    assert_eq!(
        v.get("ApartmentState")
            .unwrap()
            .as_object()
            .unwrap()
            .to_string
            .as_deref(),
        Some("UNKNOWN")
    );
    assert_eq!(
        v.get("HostInfo")
            .unwrap()
            .get("_isHostNull")
            .unwrap()
            .as_bool(),
        Some(true)
    );
    let apd = rt(&application_private_data(&[]));
    assert!(apd.get("ApplicationPrivateData").unwrap().type_names()[0]
        .ends_with("PSPrimitiveDictionary"));
}

#[test]
fn create_pipeline_with_named_switch_array_hashtable() {
    let cmd = Command::new("Set-CASMailbox")
        .arg("Identity", "alice@contoso.com")
        .param(Parameter::named(
            "ActiveSyncAllowedDeviceIDs",
            Value::hashtable([
                ("Add", Value::array(vec!["a".into(), "b".into()])),
                ("Remove", "c".into()),
            ]),
        ))
        .switch("Confirm")
        .param(Parameter::switch_nil("Force"))
        .param(Parameter::positional(Value::Int32(3)));
    let pipe = CreatePipeline::new(vec![
        cmd.clone(),
        Command::new("Select-Object").arg("Property", Value::array(vec!["Name".into()])),
    ]);
    for p in [
        ProtocolVersion::V2_1,
        ProtocolVersion::V2_2,
        ProtocolVersion::V2_3,
    ] {
        let v = rt(&pipe.to_value(p));
        let back = CreatePipeline::from_value(&v).unwrap();
        assert_eq!(back, pipe);
        let c0 = &v
            .get("PowerShell")
            .unwrap()
            .get("Cmds")
            .unwrap()
            .items()
            .unwrap()[0];
        assert_eq!(c0.get("IsScript").unwrap().as_bool(), Some(false));
        assert_eq!(
            c0.get("MergeInformation").is_some(),
            p == ProtocolVersion::V2_3
        );
        assert_eq!(c0.get("MergeError").is_some(), p >= ProtocolVersion::V2_2);
    }
    let c = &CreatePipeline::from_value(&pipe.to_value(ProtocolVersion::V2_3))
        .unwrap()
        .commands[0];
    assert_eq!(
        c.parameters[2],
        Parameter::named("Confirm", Value::Bool(true))
    );
    assert_eq!(c.parameters[3].value, Value::Nil);
    assert_eq!(c.parameters[4].name, None);
    let h = c.parameters[1].value.as_object().unwrap();
    assert_eq!(h.dict_get("Remove").unwrap().as_str(), Some("c"));
    assert_eq!(h.dict_get("Add").unwrap().items().unwrap().len(), 2);
}

#[test]
fn recorded_create_pipeline_reads_back() {
    let recs = common::recordings();
    let Some((_, text)) = recs.iter().find(|(n, _)| n == "test_client_execute_ps.yml") else {
        return;
    };
    let cap = Capture::parse(text).unwrap();
    let (_, v) = cap
        .decode_values()
        .unwrap()
        .into_iter()
        .find(|(m, _)| m.message.message_type.known() == Some(MessageType::CreatePipeline))
        .unwrap();
    let p = CreatePipeline::from_value(&v.unwrap()).unwrap();
    assert_eq!(p.commands.len(), 2);
    assert_eq!(p.commands[0].name, "Invoke-Expression");
    assert_eq!(p.commands[0].parameters[0].name.as_deref(), Some("Command"));
    assert_eq!(p.commands[1].name, "Out-String");
}

#[test]
fn states_and_output_messages() {
    let rs = StateInfo {
        state: runspace_pool_state::OPENED,
        error: None,
    };
    assert_eq!(
        StateInfo::from_runspace_pool(&rt(&rs.runspace_pool_value())).unwrap(),
        rs
    );
    let err = ErrorRecordBuilder::new("boom", "Boom,Lab").build();
    let ps = StateInfo {
        state: pipeline_state::FAILED,
        error: Some(err),
    };
    let back = StateInfo::from_pipeline(&rt(&ps.pipeline_value())).unwrap();
    assert_eq!(back, ps);
    assert_eq!(
        ErrorRecord::from_value(back.error.as_ref().unwrap())
            .unwrap()
            .message()
            .as_deref(),
        Some("boom")
    );
    let (rpid, pid) = (Uuid::from_u128(10), Uuid::from_u128(11));
    let out = pipeline_output(rpid, pid, &Value::string("hello"));
    let parsed = Message::parse(&out.encode()).unwrap();
    assert_eq!(
        parsed.message_type.known(),
        Some(MessageType::PipelineOutput)
    );
    assert_eq!(parsed.rpid, rpid);
    assert_eq!(parsed.value().unwrap().unwrap().as_str(), Some("hello"));
}
