#include "engine/eval/corpus.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "engine/eval/text_util.h"

namespace ritsu::eval {
namespace {

bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

std::string HeadingText(const std::string& line) {
  size_t i = line.find_first_not_of('#');
  return Trim(line.substr(i == std::string::npos ? line.size() : i));
}

// Text of an element and all its descendants, concatenated (Ruby readings included: e-Gov
// puts them in <Rt>, which is rare in statutes and harmless for retrieval).
std::string NodeText(xmlNode* node) {
  xmlChar* c = xmlNodeGetContent(node);
  std::string s = c ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return Trim(s);
}

bool Is(xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

xmlNode* Child(xmlNode* n, const char* name) {
  for (xmlNode* c = n->children; c; c = c->next)
    if (Is(c, name)) return c;
  return nullptr;
}

// Paragraph / Item / Subitem: its title ("２", "一") and sentences, then nested items.
void AppendProvision(xmlNode* n, std::string* out) {
  for (xmlNode* c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string name = reinterpret_cast<const char*>(c->name);
    if (name == "ParagraphNum" || name == "ItemTitle" || (StartsWith(name, "Subitem") && name.find("Title") != std::string::npos)) {
      std::string t = NodeText(c);
      if (!t.empty()) *out += t + " ";
    } else if (name == "ParagraphSentence" || name == "ItemSentence" ||
               (StartsWith(name, "Subitem") && name.find("Sentence") != std::string::npos)) {
      *out += NodeText(c) + "\n";
    } else if (name == "Item" || (StartsWith(name, "Subitem") && name.find("Title") == std::string::npos &&
                                  name.find("Sentence") == std::string::npos)) {
      AppendProvision(c, out);
    }
  }
}

void CollectArticles(xmlNode* n, const std::string& law, std::vector<Passage>* out) {
  for (xmlNode* c = n; c; c = c->next) {
    if (Is(c, "Article")) {
      std::string title;
      if (xmlNode* t = Child(c, "ArticleTitle")) title = NodeText(t);
      if (xmlNode* cap = Child(c, "ArticleCaption")) title += NodeText(cap);
      std::string text;
      for (xmlNode* p = c->children; p; p = p->next)
        if (Is(p, "Paragraph")) AppendProvision(p, &text);
      Passage passage;
      passage.id = law + " " + title;
      passage.title = passage.id;
      passage.text = Trim(text);
      out->push_back(std::move(passage));
      continue;  // articles do not nest
    }
    if (c->children) CollectArticles(c->children, law, out);
  }
}

}  // namespace

std::vector<Passage> PassagesFromContext(const std::string& context) {
  std::vector<Passage> out;
  std::string law;
  std::istringstream in(context);
  Passage* cur = nullptr;
  for (std::string line; std::getline(in, line);) {
    if (StartsWith(line, "## ")) {
      law = HeadingText(line);
      cur = nullptr;
    } else if (StartsWith(line, "### ")) {
      Passage p;
      p.id = law.empty() ? HeadingText(line) : law + " " + HeadingText(line);
      p.title = p.id;
      out.push_back(std::move(p));
      cur = &out.back();
    } else if (!Trim(line).empty()) {
      if (!cur) {  // text before any article heading: a passage of its own under the law name
        Passage p;
        p.id = law.empty() ? "(前文)" : law;
        p.title = p.id;
        out.push_back(std::move(p));
        cur = &out.back();
      }
      if (!cur->text.empty()) cur->text += "\n";
      cur->text += StartsWith(line, "#") ? HeadingText(line) : line;
    }
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const Passage& p) { return p.text.empty(); }), out.end());
  return out;
}

void MergePassages(std::vector<Passage>* corpus, const std::vector<Passage>& more) {
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < corpus->size(); ++i) by_id[(*corpus)[i].id] = i;
  for (const auto& p : more) {
    auto it = by_id.find(p.id);
    if (it == by_id.end()) {
      by_id[p.id] = corpus->size();
      corpus->push_back(p);
      continue;
    }
    Passage& dst = (*corpus)[it->second];
    std::set<std::string> have;
    std::istringstream in(dst.text);
    for (std::string l; std::getline(in, l);) have.insert(l);
    std::istringstream add(p.text);
    for (std::string l; std::getline(add, l);) {
      if (have.insert(l).second) dst.text += "\n" + l;
    }
  }
}

std::vector<Passage> CorpusFromDataset(const std::vector<Sample>& samples) {
  std::vector<Passage> corpus;
  for (const auto& s : samples) MergePassages(&corpus, PassagesFromContext(s.context));
  return corpus;
}

Result<std::vector<Passage>> PassagesFromEgovXml(const std::string& path) {
  xmlDoc* doc = xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc) return Status::InvalidArgument("e-Gov XML " + path + ": not well-formed XML");
  xmlNode* root = xmlDocGetRootElement(doc);
  std::string law;
  if (root) {
    if (xmlNode* body = Child(root, "LawBody"))
      if (xmlNode* t = Child(body, "LawTitle")) law = NodeText(t);
  }
  if (!root || !Is(root, "Law") || law.empty()) {
    xmlFreeDoc(doc);
    return Status::InvalidArgument("e-Gov XML " + path + ": expected <Law><LawBody><LawTitle>");
  }
  std::vector<Passage> out;
  CollectArticles(root, law, &out);
  xmlFreeDoc(doc);
  if (out.empty()) return Status::InvalidArgument("e-Gov XML " + path + ": no <Article> elements");
  return out;
}

Result<std::vector<Passage>> PassagesFromEgovDir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Status::NotFound("law XML directory " + dir + " does not exist");
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".xml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) return Status::NotFound("law XML directory " + dir + " holds no .xml files");
  std::vector<Passage> corpus;
  for (const auto& f : files) {
    RITSU_ASSIGN_OR_RETURN(auto passages, PassagesFromEgovXml(f));
    MergePassages(&corpus, passages);
  }
  return corpus;
}

}  // namespace ritsu::eval
