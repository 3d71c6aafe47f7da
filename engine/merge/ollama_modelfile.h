// Ollama Modelfile for a merged Qwen GGUF, and `ollama create` to register it.
//
// The Modelfile points FROM at the GGUF beside it, carries Qwen's ChatML prompt format as an
// Ollama (Go text/template) TEMPLATE, and stops generation at <|im_end|> and <|endoftext|>.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ritsu::merge {

// The Modelfile text; gguf_file_name is relative to the Modelfile's directory ("./x.gguf").
std::string QwenModelfile(const std::string& gguf_file_name);

// The command that registers the model: {"ollama", "create", NAME, "-f", MODELFILE}.
std::vector<std::string> OllamaCreateCommand(const std::string& name, const std::string& modelfile_path);

// True when an executable `ollama` is on PATH.
bool OllamaOnPath();

// Runs `ollama create`; on a non-zero exit the status carries ollama's stderr.
Status RunOllamaCreate(const std::string& name, const std::string& modelfile_path);

// Shell-quoted command line for printing ("ollama create law-ft -f '/x y/Modelfile'").
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace ritsu::merge
