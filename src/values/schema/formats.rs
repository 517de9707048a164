//! `format` in the manager's schema: asserted or annotation only
//! (`schema_formats:` in fleetform.yml), and the formats infrastructure needs
//! that JSON Schema lacks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::config::schema_formats::FormatMode;

/// A format's check.
pub type Check = fn(&str) -> bool;

/// The formats fleetform adds, by name, with their check.
pub const CUSTOM: &[(&str, Check)] = &[
    ("cidr", is_cidr),
    ("cidr-ipv4", is_cidr_v4),
    ("cidr-ipv6", is_cidr_v6),
];

/// `address/prefix` for IPv4 (prefix 0–32) or IPv6 (prefix 0–128), as
/// Terraform's `cidrsubnet` and every cloud's network API take it. Host bits
/// may be set (`10.0.0.1/24` is a valid interface address).
pub fn is_cidr(s: &str) -> bool {
    is_cidr_v4(s) || is_cidr_v6(s)
}

pub fn is_cidr_v4(s: &str) -> bool {
    split(s, 32).is_some_and(|a| a.parse::<Ipv4Addr>().is_ok())
}

pub fn is_cidr_v6(s: &str) -> bool {
    split(s, 128).is_some_and(|a| {
        // No zone (`%eth0`) and no IPv4-style text outside the address.
        a.parse::<Ipv6Addr>().is_ok() && a.parse::<IpAddr>().is_ok()
    })
}

/// The address of `address/prefix` when the prefix is a plain decimal
/// (no sign, no leading zero) of at most `max`.
fn split(s: &str, max: u32) -> Option<&str> {
    let (addr, prefix) = s.split_once('/')?;
    let plain = !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'))
        && prefix.len() <= 3;
    (plain && prefix.parse::<u32>().ok()? <= max).then_some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_takes_both_families_and_refuses_the_rest() {
        for ok in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "10.0.0.1/32",
            "2001:db8::/32",
            "::/0",
            "::1/128",
        ] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "999.0.0.0/8",
            "010.0.0.0/8",
            "2001:db8::/129",
            "fe80::1%eth0/64",
            "/8",
            "10.0.0.0/8/8",
            "",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
        assert!(is_cidr_v4("10.0.0.0/8") && !is_cidr_v4("::/0"));
        assert!(is_cidr_v6("::/0") && !is_cidr_v6("10.0.0.0/8"));
    }
}
