//! The phi-accrual failure detector (Hayashibara et al., 2004): how suspicious is a peer's
//! silence, given how regularly it has been heard from so far?
//!
//! A fixed timeout answers "up or down" with one number that is either too short for a loaded
//! network or too long for a quiet one. The accrual detector instead keeps a window of recent
//! heartbeat inter-arrival times, models them as a normal distribution, and reports
//! `phi = -log10(P(the next heartbeat comes even later than now))`: phi 1 means a 10% chance that
//! the peer is merely late, phi 8 one in 10^8. The peer counts as available while `phi` is below
//! the threshold. Jittery links widen the distribution and so wait longer before suspecting;
//! regular ones are judged quickly.
//!
//! # The model
//!
//! - **Samples** are the intervals between *heartbeats* only. Other signs of life (data frames,
//!   the hello) reset the silence clock through [`PhiAccrual::heard`] but are not samples: they
//!   come in bursts, and a window full of near-zero gaps would make the next ordinary heartbeat
//!   interval look like an outage.
//! - **Mean and spread** come from the window, with two adjustments: the standard deviation is at
//!   least `min_std_dev` (perfectly regular heartbeats would otherwise make any delay infinitely
//!   suspicious), and `acceptable_pause` is added to the mean (a pause the operator chooses to
//!   tolerate, such as a scheduling hiccup, without widening the distribution for everyone).
//! - **Bootstrap.** The window starts with two synthetic samples, `estimate ± estimate / 4`, so the
//!   first heartbeats are judged against the configured first-heartbeat estimate; real samples
//!   displace them as they arrive.
//! - **Outages are not samples.** The interval that ends an outage (say 10 s of silence) would
//!   dominate the window for a long time and make the detector slow after every recovery. Such an
//!   interval is recorded clipped to the detection horizon, the delay at which phi reaches the
//!   threshold. Clipping still lets the distribution grow: if the heartbeats really are slower than
//!   the estimate, each clipped sample raises the mean and the horizon until they fit.
//! - **The normal tail** uses the logistic approximation
//!   `P(X > mean + y·sd) ≈ 1 / (1 + e^(y·(1.5976 + 0.070566·y²)))` (error below 1.4·10⁻⁴), which
//!   needs no error function and can be inverted in closed form for the horizon.
//!
//! Everything here is pure: each method takes the current time, so tests drive it with
//! synthetic instants and the mesh decides where the clock comes from.

use std::collections::VecDeque;
use std::f64::consts::LN_10;
use std::time::{Duration, Instant};

/// Default phi above which a peer counts as down.
pub const DEFAULT_PHI_THRESHOLD: f64 = 8.0;
/// Default lower bound of the standard deviation of heartbeat intervals.
pub const DEFAULT_MIN_STD_DEV_MS: u64 = 50;
/// Default pause tolerated on top of the mean heartbeat interval.
pub const DEFAULT_ACCEPTABLE_PAUSE_MS: u64 = 300;
/// Default guess of the heartbeat interval before any has been measured.
pub const DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS: u64 = 500;
/// Default number of heartbeat intervals remembered per peer.
pub const DEFAULT_WINDOW_LEN: usize = 1000;

/// Coefficients of the logistic approximation of the normal tail.
const TAIL_A: f64 = 1.5976;
const TAIL_B: f64 = 0.070566;

/// Settings of one detector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetectorConfig {
    /// A peer is available while phi is below this.
    pub threshold: f64,
    /// Lower bound of the standard deviation of heartbeat intervals.
    pub min_std_dev: Duration,
    /// Silence tolerated on top of the mean interval before suspicion starts to grow.
    pub acceptable_pause: Duration,
    /// Assumed heartbeat interval before any has been measured.
    pub first_heartbeat_estimate: Duration,
    /// Heartbeat intervals remembered (at least 1).
    pub window_len: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_PHI_THRESHOLD,
            min_std_dev: Duration::from_millis(DEFAULT_MIN_STD_DEV_MS),
            acceptable_pause: Duration::from_millis(DEFAULT_ACCEPTABLE_PAUSE_MS),
            first_heartbeat_estimate: Duration::from_millis(DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS),
            window_len: DEFAULT_WINDOW_LEN,
        }
    }
}

/// The failure detector of one peer.
#[derive(Clone, Debug)]
pub struct PhiAccrual {
    cfg: DetectorConfig,
    intervals: Window,
    /// When the last heartbeat arrived: the start of the next interval sample.
    last_heartbeat: Option<Instant>,
    /// When anything (heartbeat or not) last arrived: the start of the current silence.
    last_heard: Option<Instant>,
}

impl PhiAccrual {
    /// A detector that has never heard from its peer (and so reports it unavailable).
    ///
    /// The configuration is expected to be validated (`PeerConfig::validate`); out-of-range values
    /// are clamped to the nearest usable one rather than producing NaN.
    pub fn new(cfg: DetectorConfig) -> Self {
        let mut intervals = Window::new(cfg.window_len.max(1));
        let estimate = ms(cfg.first_heartbeat_estimate);
        intervals.push(estimate - estimate / 4.0);
        intervals.push(estimate + estimate / 4.0);
        Self {
            cfg,
            intervals,
            last_heartbeat: None,
            last_heard: None,
        }
    }

    /// Records a heartbeat that arrived at `now`: one interval sample, and the end of a silence.
    pub fn heartbeat(&mut self, now: Instant) {
        if let Some(previous) = self.last_heartbeat {
            if now > previous {
                let interval = ms(now - previous);
                self.intervals.push(interval.min(self.horizon_ms()));
            }
        }
        self.last_heartbeat = Some(self.last_heartbeat.map_or(now, |t| t.max(now)));
        self.heard(now);
    }

    /// Records any other sign of life at `now` (a data frame, the hello): it ends the current
    /// silence but is not an interval sample.
    pub fn heard(&mut self, now: Instant) {
        // Recordings from concurrent readers may arrive slightly out of order.
        self.last_heard = Some(self.last_heard.map_or(now, |t| t.max(now)));
    }

    /// Suspicion at `now`: 0 just after a heartbeat, growing with the silence; infinite for a peer
    /// never heard from.
    pub fn phi(&self, now: Instant) -> f64 {
        match self.last_heard {
            Some(last) => self.phi_after(ms(now.saturating_duration_since(last))),
            None => f64::INFINITY,
        }
    }

    /// Whether the peer counts as up at `now` (`phi < threshold`).
    pub fn is_available(&self, now: Instant) -> bool {
        self.phi(now) < self.cfg.threshold
    }

    /// When the peer was last heard from, if ever.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// The silence after which the peer counts as down, given what has been measured so far.
    pub fn horizon(&self) -> Duration {
        Duration::from_secs_f64(self.horizon_ms().max(0.0) / 1000.0)
    }

    /// Mean (pause included) and standard deviation (floored), in milliseconds.
    fn distribution(&self) -> (f64, f64) {
        let mean = self.intervals.mean() + ms(self.cfg.acceptable_pause);
        let std_dev = self
            .intervals
            .std_dev()
            .max(ms(self.cfg.min_std_dev))
            .max(f64::MIN_POSITIVE);
        (mean, std_dev)
    }

    fn phi_after(&self, silence_ms: f64) -> f64 {
        let (mean, std_dev) = self.distribution();
        let y = (silence_ms - mean) / std_dev;
        let z = y * (TAIL_A + TAIL_B * y * y);
        // phi = -log10(1 / (1 + e^z)) = log10(1 + e^z), arranged so that e^z never overflows.
        if z > 0.0 {
            (z + (-z).exp().ln_1p()) / LN_10
        } else {
            z.exp().ln_1p() / LN_10
        }
    }

    /// The silence (ms) at which phi reaches the threshold: the real root of
    /// `TAIL_B·y³ + TAIL_A·y = ln(10^threshold − 1)` (Cardano; the cubic is strictly increasing).
    fn horizon_ms(&self) -> f64 {
        let (mean, std_dev) = self.distribution();
        let threshold = self.cfg.threshold.max(f64::MIN_POSITIVE);
        // ln(10^t - 1), computed without overflowing 10^t.
        let c = threshold * LN_10 + (-(10f64.powf(-threshold))).ln_1p();
        let p = TAIL_A / TAIL_B;
        let q = -c / TAIL_B;
        let root = (q * q / 4.0 + p * p * p / 27.0).sqrt();
        let y = (-q / 2.0 + root).cbrt() + (-q / 2.0 - root).cbrt();
        mean + y * std_dev
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A bounded window of samples with running sums, so that mean and deviation are O(1).
#[derive(Clone, Debug)]
struct Window {
    samples: VecDeque<f64>,
    capacity: usize,
    sum: f64,
    sum_sq: f64,
    /// Pushes since the sums were last recomputed from the samples.
    since_recompute: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self {
            samples: VecDeque::with_capacity(capacity.min(DEFAULT_WINDOW_LEN)),
            capacity,
            sum: 0.0,
            sum_sq: 0.0,
            since_recompute: 0,
        }
    }

    fn push(&mut self, sample: f64) {
        if self.samples.len() >= self.capacity {
            if let Some(old) = self.samples.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        self.samples.push_back(sample);
        self.sum += sample;
        self.sum_sq += sample * sample;
        self.since_recompute += 1;
        // Adding and subtracting drifts; start afresh once per window's worth of samples.
        if self.since_recompute >= self.capacity {
            self.sum = self.samples.iter().sum();
            self.sum_sq = self.samples.iter().map(|s| s * s).sum();
            self.since_recompute = 0;
        }
    }

    fn mean(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.sum / self.samples.len() as f64
    }

    fn std_dev(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let mean = self.mean();
        (self.sum_sq / self.samples.len() as f64 - mean * mean)
            .max(0.0)
            .sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEARTBEAT: Duration = Duration::from_millis(200);

    fn detector() -> PhiAccrual {
        PhiAccrual::new(DetectorConfig::default())
    }

    /// Feeds `count` heartbeats `every` apart starting at `start`; returns the last arrival.
    fn beat(d: &mut PhiAccrual, start: Instant, every: Duration, count: u32) -> Instant {
        let mut now = start;
        for i in 0..count {
            now = start + every * i;
            d.heartbeat(now);
        }
        now
    }

    /// The first silence (in 10 ms steps) at which the detector reports the peer down.
    fn detection_delay(d: &PhiAccrual, last: Instant) -> Duration {
        let mut silence = Duration::ZERO;
        while d.is_available(last + silence) {
            silence += Duration::from_millis(10);
            assert!(silence < Duration::from_secs(600), "never detected");
        }
        silence
    }

    #[test]
    fn a_peer_never_heard_from_is_unavailable() {
        let d = detector();
        let now = Instant::now();
        assert!(d.phi(now).is_infinite());
        assert!(!d.is_available(now));
        assert_eq!(d.last_heard(), None);
    }

    #[test]
    fn regular_heartbeats_keep_phi_low() {
        let mut d = detector();
        let start = Instant::now();
        let mut now = start;
        for i in 0..500 {
            now = start + HEARTBEAT * i;
            d.heartbeat(now);
            // Just before the next heartbeat is due, the peer is far from suspect.
            let phi = d.phi(now + HEARTBEAT - Duration::from_millis(1));
            assert!(phi < 1.0, "phi {phi} after heartbeat {i}");
        }
        assert!(d.is_available(now + HEARTBEAT));
    }

    #[test]
    fn silence_crosses_the_threshold_after_a_few_intervals() {
        let mut d = detector();
        let last = beat(&mut d, Instant::now(), HEARTBEAT, 200);
        let delay = detection_delay(&d, last);
        // Mean 200 + pause 300 + about 5 standard deviations of 50 ms.
        assert!(delay > HEARTBEAT * 2, "detected after only {delay:?}");
        assert!(delay < HEARTBEAT * 6, "detected only after {delay:?}");
        // Suspicion only grows with the silence.
        let mut previous = 0.0;
        for step in 0..100 {
            let phi = d.phi(last + Duration::from_millis(20) * step);
            assert!(phi >= previous, "phi fell from {previous} to {phi}");
            previous = phi;
        }
        assert!(!d.is_available(last + Duration::from_secs(10)));
    }

    #[test]
    fn the_horizon_is_where_phi_reaches_the_threshold() {
        let mut d = detector();
        let last = beat(&mut d, Instant::now(), HEARTBEAT, 50);
        let horizon = d.horizon();
        let tolerance = Duration::from_millis(2);
        assert!(d.is_available(last + horizon - tolerance));
        assert!(!d.is_available(last + horizon + tolerance));
        assert!((d.phi(last + horizon) - DEFAULT_PHI_THRESHOLD).abs() < 0.01);
    }

    #[test]
    fn jittery_heartbeats_are_given_more_slack() {
        let start = Instant::now();
        let mut regular = detector();
        let last_regular = beat(&mut regular, start, HEARTBEAT, 300);
        let mut jittery = detector();
        let mut now = start;
        for i in 0..300u64 {
            // Intervals alternate between 50 ms and 350 ms: same mean, standard deviation 150.
            now += Duration::from_millis(if i % 2 == 0 { 50 } else { 350 });
            jittery.heartbeat(now);
        }
        let calm = detection_delay(&regular, last_regular);
        let noisy = detection_delay(&jittery, now);
        assert!(
            noisy > calm + Duration::from_millis(300),
            "jittery peer suspected after {noisy:?}, regular after {calm:?}"
        );
        // A silence the regular peer is already suspected for is normal for the jittery one.
        let silence = calm + Duration::from_millis(50);
        assert!(!regular.is_available(last_regular + silence));
        assert!(jittery.is_available(now + silence));
    }

    #[test]
    fn heartbeats_resuming_make_the_peer_available_again_and_do_not_slow_detection() {
        let mut d = detector();
        let last = beat(&mut d, Instant::now(), HEARTBEAT, 100);
        let before = detection_delay(&d, last);
        let outage_end = last + Duration::from_secs(30);
        assert!(!d.is_available(outage_end));
        let last = beat(&mut d, outage_end, HEARTBEAT, 5);
        assert!(d.is_available(last + HEARTBEAT));
        // The 30-second gap counts only as one long-ish sample, clipped to the old horizon;
        // recorded as is, it would push detection out to many seconds.
        let after = detection_delay(&d, last);
        assert!(
            after < before + before / 2,
            "detection took {before:?} before the outage and {after:?} after it"
        );
    }

    #[test]
    fn the_first_heartbeats_are_judged_against_the_estimate() {
        let fast = DetectorConfig {
            first_heartbeat_estimate: Duration::from_millis(100),
            ..DetectorConfig::default()
        };
        let slow = DetectorConfig {
            first_heartbeat_estimate: Duration::from_secs(2),
            ..DetectorConfig::default()
        };
        let now = Instant::now();
        let mut a = PhiAccrual::new(fast);
        let mut b = PhiAccrual::new(slow);
        a.heartbeat(now);
        b.heartbeat(now);
        // One heartbeat, no measured interval yet: the estimate alone sets the horizon.
        assert!(a.is_available(now + Duration::from_millis(300)));
        assert!(!a.is_available(now + Duration::from_secs(2)));
        assert!(b.is_available(now + Duration::from_secs(2)));
        assert!(!b.is_available(now + Duration::from_secs(10)));
    }

    #[test]
    fn heartbeats_slower_than_the_estimate_are_learned() {
        let d0 = DetectorConfig {
            first_heartbeat_estimate: Duration::from_millis(100),
            acceptable_pause: Duration::ZERO,
            ..DetectorConfig::default()
        };
        let mut d = PhiAccrual::new(d0);
        let every = Duration::from_secs(1);
        let start = Instant::now();
        // At first each heartbeat arrives after the peer was already suspected...
        d.heartbeat(start);
        assert!(!d.is_available(start + every - Duration::from_millis(1)));
        // ...but the clipped samples still move the distribution until the interval fits.
        let last = beat(&mut d, start, every, 200);
        assert!(d.is_available(last + every));
        assert!(!d.is_available(last + every * 10));
    }

    #[test]
    fn other_traffic_ends_a_silence_without_becoming_a_sample() {
        let mut d = detector();
        let last = beat(&mut d, Instant::now(), HEARTBEAT, 100);
        let before = detection_delay(&d, last);
        // A burst of data frames 1 ms apart, then heartbeats stop.
        let mut now = last;
        for _ in 0..500 {
            now += Duration::from_millis(1);
            d.heard(now);
        }
        assert!(d.is_available(now + before - Duration::from_millis(20)));
        assert!(!d.is_available(now + before + Duration::from_millis(20)));
        assert_eq!(d.last_heard(), Some(now));
        // The next heartbeat interval is still ordinary.
        d.heartbeat(last + HEARTBEAT * 3);
        assert!(d.is_available(last + HEARTBEAT * 4));
    }

    #[test]
    fn out_of_order_recordings_never_move_time_backwards() {
        let mut d = detector();
        let now = Instant::now();
        d.heartbeat(now + HEARTBEAT);
        d.heard(now);
        d.heartbeat(now);
        assert_eq!(d.last_heard(), Some(now + HEARTBEAT));
        assert!(d.phi(now).is_finite());
        assert!(d.phi(now) < 1.0);
    }

    #[test]
    fn the_window_is_bounded_and_forgets_old_intervals() {
        let cfg = DetectorConfig {
            window_len: 10,
            ..DetectorConfig::default()
        };
        let mut d = PhiAccrual::new(cfg);
        let start = Instant::now();
        // Long intervals first (1 s), then short ones (100 ms): after ten short ones only they
        // count.
        let last = beat(&mut d, start, Duration::from_secs(1), 20);
        let last = beat(&mut d, last, Duration::from_millis(100), 11);
        assert_eq!(d.intervals.samples.len(), 10);
        let expected = d.horizon();
        let mut fresh = PhiAccrual::new(cfg);
        let fresh_last = beat(&mut fresh, start, Duration::from_millis(100), 30);
        assert!(
            expected.abs_diff(fresh.horizon()) < Duration::from_millis(1),
            "{expected:?} vs {:?}",
            fresh.horizon()
        );
        assert!(d.is_available(last + Duration::from_millis(100)));
        assert!(fresh.is_available(fresh_last + Duration::from_millis(100)));
    }

    #[test]
    fn extreme_settings_stay_finite() {
        let cfg = DetectorConfig {
            threshold: 0.01,
            min_std_dev: Duration::from_nanos(1),
            acceptable_pause: Duration::ZERO,
            first_heartbeat_estimate: Duration::from_nanos(1),
            window_len: 1,
        };
        let mut d = PhiAccrual::new(cfg);
        let now = Instant::now();
        d.heartbeat(now);
        d.heartbeat(now);
        for silence in [0, 1, 1_000, 86_400_000] {
            let phi = d.phi(now + Duration::from_millis(silence));
            assert!(!phi.is_nan(), "phi is NaN after {silence} ms");
        }
        assert!(d.horizon() < Duration::from_secs(1));
    }
}
