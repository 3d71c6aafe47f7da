#include "engine/train/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "engine/model/safetensors.h"

namespace ritsu::train {

namespace fs = std::filesystem;
using nlohmann::json;

json TrainProgress::ToJson() const {
  return {{"format_version", kCheckpointFormatVersion},
          {"global_step", global_step},
          {"max_steps", total_steps},
          {"data_epoch", epoch},
          {"data_next_batch", next_batch},
          {"seed", seed},
          {"loss_sum_all", loss_sum_all},
          {"window_loss", window_loss},
          {"window_steps", window_steps},
          {"tokens_seen", tokens_seen},
          {"log_history", log_history},
          {"best_model", best.ToJson()},
          {"last_eval_epoch", last_eval_epoch},
          {"last_eval", last_eval},
          {"eval_pending", eval_pending},
          {"hf_args", hf_args},
          {"epoch_float", epoch_float}};
}

json TrainProgress::HfTrainerState() const {
  auto arg = [&](const char* k, json def) { return hf_args.contains(k) ? hf_args[k] : def; };
  json callbacks = {{"TrainerControl",
                     {{"args",
                       {{"should_epoch_stop", false},
                        {"should_evaluate", false},
                        {"should_log", false},
                        {"should_save", true},
                        {"should_training_stop", best.should_training_stop || global_step >= total_steps}}},
                      {"attributes", json::object()}}}};
  if (arg("early_stopping_patience", 0).get<int64_t>() > 0) {
    callbacks["EarlyStoppingCallback"] = {
        {"args",
         {{"early_stopping_patience", hf_args["early_stopping_patience"]},
          {"early_stopping_threshold", arg("early_stopping_threshold", 0.0)}}},
        {"attributes", {{"early_stopping_patience_counter", best.patience_counter}}}};
  }
  return {{"best_metric", best.has_best ? json(best.best_metric) : json(nullptr)},
          {"best_model_checkpoint", best.best_checkpoint.empty() ? json(nullptr) : json(best.best_checkpoint)},
          {"epoch", epoch_float},
          {"eval_steps", arg("eval_steps", nullptr)},
          {"global_step", global_step},
          {"is_hyper_param_search", false},
          {"is_local_process_zero", true},
          {"is_world_process_zero", true},
          {"log_history", log_history},
          {"logging_steps", arg("logging_steps", 500)},
          {"max_steps", total_steps},
          {"num_input_tokens_seen", tokens_seen},
          {"num_train_epochs", arg("num_train_epochs", 0)},
          {"save_steps", arg("save_steps", 500)},
          {"stateful_callbacks", callbacks},
          {"total_flos", 0},
          {"train_batch_size", arg("train_batch_size", nullptr)},
          {"trial_name", nullptr},
          {"trial_params", nullptr}};
}

Result<TrainProgress> TrainProgress::FromJson(const json& j, const std::string& source) {
  TrainProgress p;
  try {
    if (j.at("format_version").get<int>() != kCheckpointFormatVersion) {
      return Status::InvalidArgument(source + ": format_version " + j.at("format_version").dump() + " is not " +
                                     std::to_string(kCheckpointFormatVersion));
    }
    p.global_step = j.at("global_step").get<int64_t>();
    p.total_steps = j.at("max_steps").get<int64_t>();
    p.epoch = j.at("data_epoch").get<int64_t>();
    p.next_batch = j.at("data_next_batch").get<int64_t>();
    p.seed = j.at("seed").get<uint64_t>();
    p.loss_sum_all = j.at("loss_sum_all").get<double>();
    p.window_loss = j.at("window_loss").get<double>();
    p.window_steps = j.at("window_steps").get<int64_t>();
    p.tokens_seen = j.at("tokens_seen").get<int64_t>();
    p.log_history = j.at("log_history");
    // Added with evaluation during training; absent from earlier checkpoints.
    p.best = BestModelState::FromJson(j.value("best_model", json::object()));
    p.last_eval_epoch = j.value("last_eval_epoch", int64_t{0});
    p.last_eval = j.value("last_eval", json());
    p.eval_pending = j.value("eval_pending", false);
    p.hf_args = j.value("hf_args", json::object());
    p.epoch_float = j.value("epoch_float", 0.0);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  return p;
}

namespace {

std::string ParamKey(const LoraParam& p, const char* which, const char* moment) {
  return "base_model.model." + engine::LinearModulePath(p.layer, p.module) + ".lora_" + which + ".weight." + moment;
}

Status WriteJson(const fs::path& path, const json& j) { return WriteFileAtomic(path.string(), j.dump(1) + "\n"); }

}  // namespace

Status SaveCheckpoint(const std::string& dir, const LoraNet& net, const engine::LoraConfig& lora,
                      const TrainProgress& progress) {
  const fs::path final_dir(dir);
  const fs::path tmp = final_dir.string() + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  Status st = net.ToAdapter(lora).Save(tmp.string(), engine::DType::kF32);
  std::vector<engine::TensorData> opt;
  for (const LoraParam& p : net.params()) {
    opt.push_back(engine::TensorData::FromFloat(ParamKey(p, "A", "exp_avg"), engine::DType::kF32, {p.r, p.in_features}, net.Host(p.m_a)));
    opt.push_back(engine::TensorData::FromFloat(ParamKey(p, "A", "exp_avg_sq"), engine::DType::kF32, {p.r, p.in_features}, net.Host(p.v_a)));
    opt.push_back(engine::TensorData::FromFloat(ParamKey(p, "B", "exp_avg"), engine::DType::kF32, {p.out_features, p.r}, net.Host(p.m_b)));
    opt.push_back(engine::TensorData::FromFloat(ParamKey(p, "B", "exp_avg_sq"), engine::DType::kF32, {p.out_features, p.r}, net.Host(p.v_b)));
  }
  if (st.ok()) st = engine::WriteSafetensors((tmp / "optimizer.safetensors").string(), opt, {{"format", "ritsu-adamw"}});
  if (st.ok()) st = WriteJson(tmp / "ritsu_trainer_state.json", progress.ToJson());
  if (st.ok()) st = WriteJson(tmp / "trainer_state.json", progress.HfTrainerState());
  if (!st.ok()) {
    fs::remove_all(tmp, ec);
    return Status::IOError("checkpoint " + dir + " not written, earlier checkpoints are intact: " + st.ToString());
  }
  // Replace an existing directory of the same name only after the new one is complete and synced.
  st = ReplaceDirAtomic(tmp.string(), dir);
  if (!st.ok()) fs::remove_all(tmp, ec);
  return st;
}

Result<TrainProgress> LoadCheckpoint(const std::string& dir, LoraNet& net) {
  RITSU_ASSIGN_OR_RETURN(engine::LoraAdapter ad, engine::LoraAdapter::Load(dir, net.config()));
  RITSU_ASSIGN_OR_RETURN(auto opt, engine::Checkpoint::OpenFile((fs::path(dir) / "optimizer.safetensors").string()));
  for (LoraParam& p : net.params()) {
    const engine::LoraWeights* w = ad.Find(p.layer, p.module);
    if (!w || w->r != p.r) {
      return Status::InvalidArgument(dir + ": the checkpoint's adapter does not have " +
                                     engine::LinearModulePath(p.layer, p.module) + " with r=" + std::to_string(p.r) +
                                     " (resume with the same --lora-r and --target-modules)");
    }
    net.SetFromHost(p.a, w->a);
    net.SetFromHost(p.b, w->b);
    const std::vector<int64_t> shape_a = {p.r, p.in_features}, shape_b = {p.out_features, p.r};
    RITSU_ASSIGN_OR_RETURN(auto m_a, opt->ReadFloat(ParamKey(p, "A", "exp_avg"), shape_a));
    RITSU_ASSIGN_OR_RETURN(auto v_a, opt->ReadFloat(ParamKey(p, "A", "exp_avg_sq"), shape_a));
    RITSU_ASSIGN_OR_RETURN(auto m_b, opt->ReadFloat(ParamKey(p, "B", "exp_avg"), shape_b));
    RITSU_ASSIGN_OR_RETURN(auto v_b, opt->ReadFloat(ParamKey(p, "B", "exp_avg_sq"), shape_b));
    net.SetFromHost(p.m_a, m_a);
    net.SetFromHost(p.v_a, v_a);
    net.SetFromHost(p.m_b, m_b);
    net.SetFromHost(p.v_b, v_b);
  }
  if (ad.weights.size() != net.params().size()) {
    return Status::InvalidArgument(dir + ": the checkpoint's adapter targets other modules than --target-modules");
  }
  // Checkpoints written before ritsu_trainer_state.json kept the same fields in trainer_state.json.
  fs::path state_path = fs::path(dir) / "ritsu_trainer_state.json";
  if (!fs::exists(state_path)) state_path = fs::path(dir) / "trainer_state.json";
  std::ifstream in(state_path);
  if (!in) return Status::NotFound(state_path.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(state_path.string() + ": not valid JSON");
  return TrainProgress::FromJson(j, state_path.string());
}

std::string LatestCheckpoint(const std::string& output_dir) {
  const std::vector<int64_t> steps = CheckpointSteps(output_dir);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    const fs::path dir = fs::path(output_dir) / ("checkpoint-" + std::to_string(*it));
    std::error_code ec;
    const bool complete = fs::exists(dir / "adapter_model.safetensors", ec) && fs::exists(dir / "adapter_config.json", ec) &&
                          fs::exists(dir / "optimizer.safetensors", ec) &&
                          (fs::exists(dir / "ritsu_trainer_state.json", ec) || fs::exists(dir / "trainer_state.json", ec));
    if (complete) return dir.string();
  }
  return "";
}

}  // namespace ritsu::train
