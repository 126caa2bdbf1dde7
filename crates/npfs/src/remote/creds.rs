//! Who the SMB session logs on as, read once from the environment:
//! `NPFS_SMB_USER`, `NPFS_SMB_PASSWORD`, `NPFS_SMB_DOMAIN`, `NPFS_SMB_PORT` (default 445), or
//! `NPFS_SMB_CREDENTIALS=FILE` in smbclient's authentication-file format (`username = `,
//! `password = `, `domain = ` lines). The variables override the file's values. No user means
//! an anonymous (null) session.

use std::sync::OnceLock;

use npfs_core::Win32Error;

/// The logon and port of remote-pipe sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// The user name; `None`: anonymous.
    pub user: Option<String>,
    /// The password (empty for anonymous).
    pub password: String,
    /// The domain (workgroup) of the user, if given.
    pub domain: Option<String>,
    /// The TCP port of the SMB server.
    pub port: u16,
}

impl Credentials {
    /// The user as the NTLM layer takes it: `DOMAIN\user`, `user`, or empty (anonymous).
    pub(crate) fn logon_name(&self) -> String {
        match (&self.user, &self.domain) {
            (Some(u), Some(d)) => format!("{d}\\{u}"),
            (Some(u), None) => u.clone(),
            (None, _) => String::new(),
        }
    }
}

/// The values of an smbclient authentication file (`key = value` lines; `#` comments).
fn parse_auth_file(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut user, mut pass, mut domain) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "username" => user = Some(v),
            "password" => pass = Some(v),
            "domain" => domain = Some(v),
            _ => {}
        }
    }
    (user, pass, domain)
}

/// The credentials from a variable lookup (the environment, or a test's map).
fn from_lookup(
    var: impl Fn(&str) -> Option<String>,
    read: impl Fn(&str) -> std::io::Result<String>,
) -> Result<Credentials, String> {
    let (mut user, mut pass, mut domain) = (None, None, None);
    if let Some(file) = var("NPFS_SMB_CREDENTIALS").filter(|f| !f.is_empty()) {
        let text =
            read(&file).map_err(|e| format!("NPFS_SMB_CREDENTIALS: cannot read {file}: {e}"))?;
        (user, pass, domain) = parse_auth_file(&text);
    }
    if let Some(u) = var("NPFS_SMB_USER") {
        user = Some(u);
    }
    if let Some(p) = var("NPFS_SMB_PASSWORD") {
        pass = Some(p);
    }
    if let Some(d) = var("NPFS_SMB_DOMAIN") {
        domain = Some(d);
    }
    let port = match var("NPFS_SMB_PORT").filter(|p| !p.is_empty()) {
        None => 445,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(format!("NPFS_SMB_PORT: {p:?} is not a TCP port")),
        },
    };
    let user = user.filter(|u| !u.is_empty());
    Ok(Credentials {
        password: if user.is_some() {
            pass.unwrap_or_default()
        } else {
            String::new()
        },
        user,
        domain: domain.filter(|d| !d.is_empty()),
        port,
    })
}

/// The process's credentials, read from the environment on first use (never again).
/// A bad setting is `ERROR_INVALID_PARAMETER`, logged with what is wrong.
pub(crate) fn get() -> Result<&'static Credentials, Win32Error> {
    static CREDS: OnceLock<Result<Credentials, String>> = OnceLock::new();
    match CREDS
        .get_or_init(|| from_lookup(|k| std::env::var(k).ok(), |f| std::fs::read_to_string(f)))
    {
        Ok(c) => Ok(c),
        Err(msg) => {
            tracing::error!("{msg}");
            Err(Win32Error::INVALID_PARAMETER)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FILE: &str = "# comment\nusername = bob\npassword = s e=cret \ndomain=HOME\n";

    fn creds(pairs: &[(&str, &str)]) -> Result<Credentials, String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_lookup(
            |k| m.get(k).cloned(),
            |f| match f {
                "/auth" => Ok(FILE.to_owned()),
                _ => Err(std::io::ErrorKind::NotFound.into()),
            },
        )
    }

    #[test]
    fn anonymous_by_default_on_445() {
        let c = creds(&[]).unwrap();
        assert_eq!(
            c,
            Credentials {
                port: 445,
                ..Default::default()
            }
        );
        assert_eq!(c.logon_name(), "");
    }

    #[test]
    fn variables() {
        let c = creds(&[
            ("NPFS_SMB_USER", "alice"),
            ("NPFS_SMB_PASSWORD", "pw"),
            ("NPFS_SMB_DOMAIN", "WG"),
            ("NPFS_SMB_PORT", "4455"),
        ])
        .unwrap();
        assert_eq!(c.logon_name(), "WG\\alice");
        assert_eq!((c.password.as_str(), c.port), ("pw", 4455));
        assert!(creds(&[("NPFS_SMB_PORT", "x")]).is_err());
        assert!(creds(&[("NPFS_SMB_PORT", "0")]).is_err());
    }

    #[test]
    fn auth_file_then_variables_override() {
        let c = creds(&[("NPFS_SMB_CREDENTIALS", "/auth")]).unwrap();
        assert_eq!(c.logon_name(), "HOME\\bob");
        assert_eq!(c.password, "s e=cret");
        let c = creds(&[
            ("NPFS_SMB_CREDENTIALS", "/auth"),
            ("NPFS_SMB_USER", "carol"),
        ])
        .unwrap();
        assert_eq!(c.logon_name(), "HOME\\carol");
        assert!(creds(&[("NPFS_SMB_CREDENTIALS", "/missing")]).is_err());
    }
}
