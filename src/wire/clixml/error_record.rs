//! Reading and building serialized `System.Management.Automation.ErrorRecord`
//! objects (MS-PSRP 2.2.3.15), as found in ERROR_RECORD messages and in the
//! `ExceptionAsErrorRecord` of a failed PIPELINE_STATE / RUNSPACEPOOL_STATE.
//!
//! The reader is a borrowed view with lenient getters (a missing field is
//! `None`, never an error); the builder produces the shape PowerShell emits so
//! the lab server's errors look like Exchange's. This module must not decide
//! what an error means for the connector.

use super::{PsObject, Value};

/// `ErrorCategory_*` fields of an error record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CategoryInfo {
    /// The numeric `ErrorCategory` (e.g. 13 = ObjectNotFound).
    pub category: Option<i32>,
    pub activity: Option<String>,
    pub reason: Option<String>,
    pub target_name: Option<String>,
    pub target_type: Option<String>,
    /// The rendered category line, e.g. `ObjectNotFound: (x:String) [Get-Foo], ...`.
    pub message: Option<String>,
}

/// A borrowed view of a serialized ErrorRecord.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRecord<'a>(pub &'a PsObject);

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

impl<'a> ErrorRecord<'a> {
    /// View `value` as an error record when it is an object.
    pub fn from_value(value: &'a Value) -> Option<Self> {
        value.as_object().map(ErrorRecord)
    }

    /// The best human message: `ErrorDetails_Message`, else the exception's
    /// `Message`, else `ToString`.
    pub fn message(&self) -> Option<String> {
        s(self.0.get("ErrorDetails_Message"))
            .filter(|m| !m.is_empty())
            .or_else(|| s(self.0.get("Exception").and_then(|e| e.get("Message"))))
            .or_else(|| self.0.to_string.clone())
    }

    /// `FullyQualifiedErrorId`.
    pub fn fully_qualified_error_id(&self) -> Option<String> {
        s(self.0.get("FullyQualifiedErrorId"))
    }

    /// The most derived exception type name.
    pub fn exception_type(&self) -> Option<String> {
        self.0
            .get("Exception")
            .and_then(|e| e.type_names().first().cloned())
    }

    /// The `ErrorCategory_*` fields.
    pub fn category_info(&self) -> CategoryInfo {
        CategoryInfo {
            category: self.0.get("ErrorCategory_Category").and_then(Value::as_i32),
            activity: s(self.0.get("ErrorCategory_Activity")),
            reason: s(self.0.get("ErrorCategory_Reason")),
            target_name: s(self.0.get("ErrorCategory_TargetName")),
            target_type: s(self.0.get("ErrorCategory_TargetType")),
            message: s(self.0.get("ErrorCategory_Message")),
        }
    }
}

/// Builds an ErrorRecord value the way PowerShell serializes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecordBuilder {
    pub message: String,
    pub fully_qualified_error_id: String,
    /// Most derived first, e.g. `["System.Management.Automation.RemoteException", "System.Exception", "System.Object"]`.
    pub exception_types: Vec<String>,
    pub category: i32,
    pub category_name: String,
    pub activity: String,
    pub reason: String,
    pub target_name: String,
    pub target_type: String,
}

impl ErrorRecordBuilder {
    /// A record with the given message and id, category NotSpecified.
    pub fn new(message: impl Into<String>, fully_qualified_error_id: impl Into<String>) -> Self {
        ErrorRecordBuilder {
            message: message.into(),
            fully_qualified_error_id: fully_qualified_error_id.into(),
            exception_types: vec![
                "System.Management.Automation.RemoteException".into(),
                "System.Exception".into(),
                "System.Object".into(),
            ],
            category: 0,
            category_name: "NotSpecified".into(),
            activity: String::new(),
            reason: "RemoteException".into(),
            target_name: String::new(),
            target_type: String::new(),
        }
    }

    /// Set the category number and name, e.g. `(13, "ObjectNotFound")`.
    pub fn category(mut self, number: i32, name: impl Into<String>) -> Self {
        self.category = number;
        self.category_name = name.into();
        self
    }

    /// Set the activity (usually the cmdlet name).
    pub fn activity(mut self, a: impl Into<String>) -> Self {
        self.activity = a.into();
        self
    }

    /// Set target name and type.
    pub fn target(mut self, name: impl Into<String>, ty: impl Into<String>) -> Self {
        self.target_name = name.into();
        self.target_type = ty.into();
        self
    }

    /// Set the exception type names (most derived first).
    pub fn exception_types<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exception_types = names.into_iter().map(Into::into).collect();
        self
    }

    /// The category line PowerShell renders.
    fn category_message(&self) -> String {
        format!(
            "{} ({}:{}) [{}], {}",
            self.category_name, self.target_name, self.target_type, self.activity, self.reason
        )
    }

    /// Build the value.
    pub fn build(&self) -> Value {
        let first = self.exception_types.first().cloned().unwrap_or_default();
        let exception = PsObject::new()
            .with_type_names(self.exception_types.clone())
            .with_to_string(format!("{first}: {}", self.message))
            .with_adapted("Message", Value::string(self.message.clone()))
            .with_adapted("Data", Value::Nil)
            .with_adapted("InnerException", Value::Nil)
            .with_adapted("HResult", Value::Int32(-2146233087));
        Value::object(
            PsObject::new()
                .with_type_names(["System.Management.Automation.ErrorRecord", "System.Object"])
                .with_to_string(self.message.clone())
                .with_extended("Exception", Value::object(exception))
                .with_extended("TargetObject", Value::Nil)
                .with_extended(
                    "FullyQualifiedErrorId",
                    Value::string(self.fully_qualified_error_id.clone()),
                )
                .with_extended("InvocationInfo", Value::Nil)
                .with_extended("ErrorCategory_Category", Value::Int32(self.category))
                .with_extended(
                    "ErrorCategory_Activity",
                    Value::string(self.activity.clone()),
                )
                .with_extended("ErrorCategory_Reason", Value::string(self.reason.clone()))
                .with_extended(
                    "ErrorCategory_TargetName",
                    Value::string(self.target_name.clone()),
                )
                .with_extended(
                    "ErrorCategory_TargetType",
                    Value::string(self.target_type.clone()),
                )
                .with_extended(
                    "ErrorCategory_Message",
                    Value::string(self.category_message()),
                )
                .with_extended("SerializeExtendedInfo", Value::Bool(false)),
        )
    }
}
