#include "engine/merge/ollama_modelfile.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

extern char** environ;

namespace ritsu::merge {
namespace {

// ChatML as Qwen's tokenizer_config chat_template renders it, for Ollama's template engine:
// system prompt first, then each user/assistant turn between <|im_start|>ROLE\n and
// <|im_end|>\n, then an open assistant turn. The .Prompt branch serves `ollama run` without
// message history (older API calls).
constexpr const char* kQwenTemplate = R"TPL({{- if .Messages }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- range $i, $m := .Messages }}
{{- if ne $m.Role "system" }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}<|im_start|>{{ $m.Role }}
{{ $m.Content }}
{{- if or (ne $m.Role "assistant") (not $last) }}<|im_end|>
{{ end }}
{{- if and $last (ne $m.Role "assistant") }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}
{{- if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }})TPL";

}  // namespace

std::string QwenModelfile(const std::string& gguf_file_name) {
  std::ostringstream out;
  out << "# Written by ritsu-engine merge. Register with: ollama create <name> -f Modelfile\n";
  out << "FROM ./" << gguf_file_name << "\n\n";
  out << "TEMPLATE \"\"\"" << kQwenTemplate << "\"\"\"\n\n";
  out << "PARAMETER stop \"<|im_end|>\"\n";
  out << "PARAMETER stop \"<|endoftext|>\"\n";
  return out.str();
}

std::vector<std::string> OllamaCreateCommand(const std::string& name, const std::string& modelfile_path) {
  return {"ollama", "create", name, "-f", modelfile_path};
}

bool OllamaOnPath() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/ollama";
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "0123456789_-./:=@+%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

Status RunOllamaCreate(const std::string& name, const std::string& modelfile_path) {
  const auto argv_s = OllamaCreateCommand(name, modelfile_path);
  std::vector<char*> argv;
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int err_pipe[2];
  if (pipe(err_pipe) != 0) return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "ollama", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(err_pipe[1]);
  if (rc != 0) {
    close(err_pipe[0]);
    return Status::Unavailable(fmt::format("cannot start `{}`: {}", ShellJoin(argv_s), std::strerror(rc)));
  }
  std::string err;
  char buf[4096];
  ssize_t n;
  while ((n = read(err_pipe[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) err.append(buf, static_cast<size_t>(n));
  }
  close(err_pipe[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::Ok();
  if (err.size() > 4000) err = "..." + err.substr(err.size() - 4000);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  const std::string how = WIFEXITED(wstatus) ? fmt::format("exit status {}", WEXITSTATUS(wstatus))
                                             : fmt::format("signal {}", WTERMSIG(wstatus));
  return Status::FailedPrecondition(fmt::format("`{}` failed ({}): {}", ShellJoin(argv_s), how,
                                                err.empty() ? "(no stderr output)" : err));
}

}  // namespace ritsu::merge
