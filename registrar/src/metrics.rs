//! The registrar's counters, for `/metrics` (Prometheus text, through promtext): registrations,
//! revocations, and refusals by a reason from a fixed list (never an address or a name).

use std::sync::atomic::{AtomicU64, Ordering};

use promtext::Exposition;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A wrong or missing deploy key, admin token or sensor credential.
    NotAuthorized,
    /// Its source has used up its failed secrets for the minute.
    RateLimited,
    /// A body larger than `limits.max_body_bytes`.
    TooLarge,
    /// A body that is not a JSON object, or a missing or invalid field.
    BadRequest,
    /// The name (or host name) is taken.
    Taken,
    /// `limits.max_sensors` are registered.
    Full,
    /// The `Host` names another service.
    Host,
}

impl Refusal {
    /// Every reason, in the order of the counters.
    pub const ALL: [Refusal; 7] = [
        Refusal::NotAuthorized,
        Refusal::RateLimited,
        Refusal::TooLarge,
        Refusal::BadRequest,
        Refusal::Taken,
        Refusal::Full,
        Refusal::Host,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotAuthorized => "not_authorized",
            Refusal::RateLimited => "rate_limited",
            Refusal::TooLarge => "too_large",
            Refusal::BadRequest => "bad_request",
            Refusal::Taken => "taken",
            Refusal::Full => "full",
            Refusal::Host => "host",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct RegistrarMetrics {
    /// Sensors registered since start.
    pub registrations: AtomicU64,
    /// Sensors revoked since start.
    pub revocations: AtomicU64,
    refusals: [AtomicU64; Refusal::ALL.len()],
}

impl RegistrarMetrics {
    /// Counts a refusal.
    pub fn refused(&self, why: Refusal) {
        self.refusals[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Refusals for `why` so far.
    pub fn refusals(&self, why: Refusal) -> u64 {
        self.refusals[why as usize].load(Ordering::Relaxed)
    }

    /// The page: these counters, `active` sensors, and the process metrics.
    pub fn render(&self, active: Option<u64>) -> String {
        let mut out = Exposition::default();
        out.family(
            "recce7_registrar_registrations_total",
            "counter",
            "Sensors registered since the registrar started.",
        );
        out.sample(
            "recce7_registrar_registrations_total",
            &[],
            self.registrations.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "recce7_registrar_revocations_total",
            "counter",
            "Sensors revoked since the registrar started.",
        );
        out.sample(
            "recce7_registrar_revocations_total",
            &[],
            self.revocations.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "recce7_registrar_refusals_total",
            "counter",
            "Requests refused, by reason.",
        );
        for why in Refusal::ALL {
            out.sample(
                "recce7_registrar_refusals_total",
                &[("reason", why.label())],
                self.refusals(why) as f64,
            );
        }
        if let Some(active) = active {
            out.family(
                "recce7_registrar_sensors",
                "gauge",
                "Sensors registered and not revoked.",
            );
            out.sample("recce7_registrar_sensors", &[], active as f64);
        }
        promtext::process_metrics(&mut out);
        out.finish()
    }
}
