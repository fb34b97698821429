//! `Get-ActiveSyncDeviceClass`: the kinds of device (type and model) that have synced with
//! the org, each with the last time one of them did, as `ActiveSyncDeviceClass` objects.
//!
//! It derives the classes from the devices on each call and must keep no state of its own.

use std::sync::RwLock;

use super::render::{datetime, mobile_config_dn, named_guid, object, s, AD_CONFIGURATION_OBJECT};
use super::{read, truncation_warning, CmdError, Cmdlet, Context, Emitted, Execution, Needs};
use super::{Parameters, Params, Spec, Versions};
use crate::lab::org::Org;
use crate::wire::clixml::Value;
use crate::wire::exchange::opath::{FieldValue, Record};

/// `Get-ActiveSyncDeviceClass`.
pub struct GetDeviceClass;

impl Cmdlet for GetDeviceClass {
    fn spec(&self) -> Spec {
        Spec {
            name: "Get-ActiveSyncDeviceClass",
            parameters: Parameters::identity(&["Identity", "ResultSize", "Filter", "SortBy"]),
            needs: Needs::View,
            versions: Versions::All,
        }
    }

    fn run(&self, org: &RwLock<Org>, _: &Context<'_>, p: &Params) -> Result<Execution, CmdError> {
        let (size, explicit) = p.result_size()?;
        let sample = ClassRec {
            device_type: "",
            model: "",
            last: 0,
        };
        let filter = p.filter(Some(&sample))?;
        let o = read(org);
        let mut classes: Vec<(&'static str, &'static str, i64)> = Vec::new();
        for d in &o.devices {
            let k = o.kind(d);
            match classes
                .iter_mut()
                .find(|(t, m, _)| *t == k.device_type && *m == k.model)
            {
                Some(c) => c.2 = c.2.max(d.last_sync),
                None => classes.push((k.device_type, k.model, d.last_sync)),
            }
        }
        let id = p.string("Identity");
        let mut out = Vec::new();
        let mut matched = 0usize;
        for (t, m, last) in classes {
            let cname = format!("{t}§{m}");
            if id
                .as_deref()
                .is_some_and(|i| !cname.eq_ignore_ascii_case(i.trim()))
            {
                continue;
            }
            let rec = ClassRec {
                device_type: t,
                model: m,
                last,
            };
            if filter.as_ref().is_some_and(|f| !f.matches(&rec)) {
                continue;
            }
            matched += 1;
            if size.is_some_and(|n| out.len() >= n) {
                continue;
            }
            out.push(Emitted::Output(class_object(&o, &rec, cname)));
        }
        if matched == 0 {
            if let Some(i) = id {
                return Err(CmdError::not_found(self.name(), &i));
            }
        }
        if size.is_some_and(|n| matched > n) {
            out.push(Emitted::Warning(truncation_warning(explicit)));
        }
        Ok(Execution::done(out))
    }
}

/// A device class, as `-Filter` sees it.
struct ClassRec<'a> {
    device_type: &'a str,
    model: &'a str,
    last: i64,
}

impl Record for ClassRec<'_> {
    fn field(&self, p: &str) -> Option<FieldValue> {
        Some(match p.to_ascii_lowercase().as_str() {
            "devicetype" => FieldValue::Str(self.device_type.into()),
            "devicemodel" => FieldValue::Str(self.model.into()),
            "lastupdatetime" => FieldValue::Date(self.last),
            _ => return None,
        })
    }
}

/// An `ActiveSyncDeviceClass` object named `name` (`type§model`).
fn class_object(org: &Org, c: &ClassRec<'_>, name: String) -> Value {
    object(
        &["Microsoft.Exchange.Data.Directory.SystemConfiguration.ActiveSyncDeviceClass"],
        AD_CONFIGURATION_OBJECT,
        name.clone(),
        vec![
            ("DeviceType", s(c.device_type)),
            ("DeviceModel", s(c.model)),
            ("LastUpdateTime", datetime(c.last)),
            ("Name", s(name.clone())),
            ("Identity", s(name.clone())),
            ("DistinguishedName", s(mobile_config_dn(org, &name))),
            ("Guid", Value::Guid(named_guid(&name))),
            ("IsValid", Value::Bool(true)),
        ],
    )
}
