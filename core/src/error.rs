//! The one error table: each kind of refusal, in one place, with its SOAP fault, gRPC status,
//! HTTP status and stable code. The wire carries only the row; the detail goes to the log and
//! the audit entry under the request's correlation id.

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// Bad or missing signature.
    BadSignature,
    /// Untrusted, unknown or revoked signer.
    UntrustedSigner,
    /// Expired or replayed message.
    Expired,
    /// The sender registry does not allow it.
    NotAuthorized,
    /// Invalid request, hash mismatch.
    InvalidRequest,
    /// Recipient unknown or without an active mailbox.
    RecipientUnknown,
    /// The recipient refuses electronic delivery (their right of opposition): the sender
    /// must use another channel, paper.
    RecipientRefused,
    /// No such message for this sender (another sender's message gets the same answer).
    MessageUnknown,
    /// The same idempotency key with other content.
    DuplicateSubmission,
    /// A document or the request is too large.
    TooLarge,
    /// More requests than the sender's rate allows (the time-stamp endpoint).
    RateLimited,
    /// TSA, store or audit log unavailable.
    ServiceUnavailable,
}

/// Who is at fault, in SOAP terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    Sender,
    Receiver,
}

/// gRPC status codes (the numbers of google.rpc.Code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum GrpcCode {
    InvalidArgument = 3,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub party: Party,
    /// The SOAP subcode: namespace prefix (`wsse` or `sealpost`) and local name.
    pub subcode: (&'static str, &'static str),
    pub grpc: GrpcCode,
    pub http: u16,
    pub code: &'static str,
    /// What the caller is told, in one sentence that names no internal step.
    pub message: &'static str,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::BadSignature,
        ErrorKind::UntrustedSigner,
        ErrorKind::Expired,
        ErrorKind::NotAuthorized,
        ErrorKind::InvalidRequest,
        ErrorKind::RecipientUnknown,
        ErrorKind::RecipientRefused,
        ErrorKind::MessageUnknown,
        ErrorKind::DuplicateSubmission,
        ErrorKind::TooLarge,
        ErrorKind::RateLimited,
        ErrorKind::ServiceUnavailable,
    ];

    /// Its name in stored records and in the audit entry's canonical encoding.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadSignature => "BadSignature",
            ErrorKind::UntrustedSigner => "UntrustedSigner",
            ErrorKind::Expired => "Expired",
            ErrorKind::NotAuthorized => "NotAuthorized",
            ErrorKind::InvalidRequest => "InvalidRequest",
            ErrorKind::RecipientUnknown => "RecipientUnknown",
            ErrorKind::RecipientRefused => "RecipientRefused",
            ErrorKind::MessageUnknown => "MessageUnknown",
            ErrorKind::DuplicateSubmission => "DuplicateSubmission",
            ErrorKind::TooLarge => "TooLarge",
            ErrorKind::RateLimited => "RateLimited",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    pub fn row(self) -> Row {
        use ErrorKind::*;
        use GrpcCode as G;
        use Party::*;
        let (party, subcode, grpc, http, code, message) = match self {
            BadSignature => (
                Sender,
                ("wsse", "FailedCheck"),
                G::Unauthenticated,
                401,
                "SEALPOST-AUTH-001",
                "The signature or its security header is missing or invalid.",
            ),
            UntrustedSigner => (
                Sender,
                ("wsse", "FailedAuthentication"),
                G::Unauthenticated,
                401,
                "SEALPOST-AUTH-002",
                "The signer is not a trusted, registered sender.",
            ),
            Expired => (
                Sender,
                ("wsu", "MessageExpired"),
                G::Unauthenticated,
                401,
                "SEALPOST-AUTH-003",
                "The message has expired or was already received.",
            ),
            NotAuthorized => (
                Sender,
                ("sealpost", "NotAuthorized"),
                G::PermissionDenied,
                403,
                "SEALPOST-AUTHZ-001",
                "This sender may not send this message.",
            ),
            InvalidRequest => (
                Sender,
                ("sealpost", "InvalidRequest"),
                G::InvalidArgument,
                400,
                "SEALPOST-REQ-001",
                "The request is invalid.",
            ),
            RecipientUnknown => (
                Sender,
                ("sealpost", "RecipientUnknown"),
                G::NotFound,
                404,
                "SEALPOST-REQ-002",
                "The recipient has no active mailbox.",
            ),
            RecipientRefused => (
                Sender,
                ("sealpost", "RecipientRefused"),
                G::FailedPrecondition,
                409,
                "SEALPOST-REQ-007",
                "The recipient refuses electronic delivery: send the letter by another channel.",
            ),
            MessageUnknown => (
                Sender,
                ("sealpost", "MessageUnknown"),
                G::NotFound,
                404,
                "SEALPOST-REQ-003",
                "No such message.",
            ),
            DuplicateSubmission => (
                Sender,
                ("sealpost", "DuplicateSubmission"),
                G::AlreadyExists,
                409,
                "SEALPOST-REQ-004",
                "This idempotency key was used for another submission.",
            ),
            TooLarge => (
                Sender,
                ("sealpost", "TooLarge"),
                G::ResourceExhausted,
                413,
                "SEALPOST-REQ-005",
                "The request or a document is too large.",
            ),
            RateLimited => (
                Sender,
                ("sealpost", "RateLimited"),
                G::ResourceExhausted,
                429,
                "SEALPOST-REQ-006",
                "Too many requests: try again later.",
            ),
            ServiceUnavailable => (
                Receiver,
                ("sealpost", "ServiceUnavailable"),
                G::Unavailable,
                503,
                "SEALPOST-SRV-001",
                "The service cannot accept requests at the moment.",
            ),
        };
        Row {
            party,
            subcode,
            grpc,
            http,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_stable_code() {
        let codes: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.row().code).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert_eq!(ErrorKind::BadSignature.row().code, "SEALPOST-AUTH-001");
        assert_eq!(ErrorKind::ServiceUnavailable.row().party, Party::Receiver);
    }
}
