//! Names: a server's default name, which of its tools are offered, and the name each is offered
//! under (OpenAI wants `^[a-zA-Z0-9_-]{1,64}$`; MCP allows more, such as dots and slashes).

use super::Settings;

/// Launchers whose first argument names the server better than they do.
const LAUNCHERS: [&str; 10] = [
    "python", "python3", "node", "npx", "uv", "uvx", "deno", "bun", "docker", "pipx",
];

/// The default name of a stdio server: the command's file name, or, for a launcher (`npx`,
/// `python3`, ...), that of its first argument that is not an option.
pub(super) fn from_command(command: &str, args: &[String]) -> String {
    let stem = |s: &str| {
        let file = s.rsplit(['/', '\\']).next().unwrap_or(s);
        file.strip_suffix(".py")
            .or_else(|| file.strip_suffix(".js"))
            .unwrap_or(file)
            .to_owned()
    };
    let command_stem = stem(command);
    if LAUNCHERS.contains(&command_stem.as_str())
        && let Some(arg) = args.iter().find(|a| !a.starts_with('-') && *a != "run")
    {
        return stem(arg);
    }
    command_stem
}

/// The default name of an HTTP server: the URL's host and port.
pub(super) fn from_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// Whether the server's tool `name` is offered.
pub(super) fn wanted(settings: &Settings, name: &str) -> bool {
    settings
        .include
        .as_ref()
        .is_none_or(|include| include.iter().any(|n| n == name))
        && !settings.exclude.iter().any(|n| n == name)
}

/// The name the server's tool `name` is offered under: `<prefix>_<name>`, every character
/// OpenAI refuses replaced by `_`, at most 64 characters. `None` when nothing is left.
pub(super) fn offered(prefix: Option<&str>, name: &str) -> Option<String> {
    let full = match prefix {
        Some(p) if !p.is_empty() => format!("{p}_{name}"),
        _ => name.to_owned(),
    };
    let clean: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_openais_rule() {
        assert_eq!(offered(None, "get_weather").as_deref(), Some("get_weather"));
        assert_eq!(
            offered(Some("fs"), "read.file").as_deref(),
            Some("fs_read_file")
        );
        assert_eq!(offered(None, "a/b c").as_deref(), Some("a_b_c"));
        assert_eq!(offered(None, &"x".repeat(80)).map(|n| n.len()), Some(64));
        assert_eq!(offered(None, ""), None);
    }

    #[test]
    fn default_names_say_which_server() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            from_command("/usr/bin/python3", &args(&["-u", "tests/tools.py"])),
            "tools"
        );
        assert_eq!(
            from_command("npx", &args(&["-y", "@x/server-memory"])),
            "server-memory"
        );
        assert_eq!(
            from_command("/opt/weather-server", &args(&[])),
            "weather-server"
        );
        assert_eq!(from_url("http://127.0.0.1:8000/mcp"), "127.0.0.1:8000");
        assert_eq!(
            from_url("https://search.example.com/mcp"),
            "search.example.com"
        );
    }
}
