//! Command-line options.

use crate::placement::Placement;

/// What the run does.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Fewer runs, shorter ones.
    pub quick: bool,
    /// A seconds-long check that everything works (tiny counts; figures meaningless).
    pub smoke: bool,
    /// Placements to measure.
    pub placements: Vec<Placement>,
    /// Write raw results as JSON here.
    pub json: Option<String>,
    /// Write the throughput plot here.
    pub svg: Option<String>,
    /// Write the Markdown table here.
    pub markdown: Option<String>,
    /// Skip Wine even when installed.
    pub no_wine: bool,
    /// Pipes for the broker load figure.
    pub pipes: usize,
}

/// Usage text.
pub const USAGE: &str = "\
usage: npfs-bench [--quick | --smoke] [--placements same,cross] [--json FILE] [--svg FILE]
                  [--markdown FILE] [--no-wine] [--pipes N]
  (as `npfs bench ...` from the npfs command)
  --quick       3 runs of ~0.1 s per figure instead of 5 of ~0.2 s
  --smoke       a few seconds: tiny runs, checks that every measurement works (CI)
  --placements  same (both sides on CPU 0), cross (CPU 0 / CPU 1); default both
  --json FILE   raw results;  --svg FILE  throughput plot;  --markdown FILE  the table
  --no-wine     skip the Wine rows
  --pipes N     connected pipes for the broker RSS figure (default 10000)";

impl Opts {
    /// Parse the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            quick: false,
            smoke: false,
            placements: vec![Placement::Same, Placement::Cross],
            json: None,
            svg: None,
            markdown: None,
            no_wine: false,
            pipes: 10_000,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{a} needs a value"))
            };
            match a.as_str() {
                "--quick" => o.quick = true,
                "--smoke" => o.smoke = true,
                "--no-wine" => o.no_wine = true,
                "--json" => o.json = Some(value()?),
                "--svg" => o.svg = Some(value()?),
                "--markdown" => o.markdown = Some(value()?),
                "--pipes" => o.pipes = value()?.parse().map_err(|_| "bad --pipes")?,
                "--placements" => {
                    o.placements = value()?
                        .split(',')
                        .map(|p| Placement::from_id(p).ok_or(format!("unknown placement {p}")))
                        .collect::<Result<_, _>>()?;
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if o.smoke && !args.iter().any(|a| a == "--pipes") {
            o.pipes = 100;
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let a: Vec<String> = ["--smoke", "--placements", "cross", "--json", "x.json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = Opts::parse(&a).unwrap();
        assert!(o.smoke);
        assert_eq!(o.placements, vec![Placement::Cross]);
        assert_eq!(o.json.as_deref(), Some("x.json"));
        assert_eq!(o.pipes, 100);
        assert!(Opts::parse(&["--bogus".to_string()]).is_err());
    }
}
