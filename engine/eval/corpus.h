// Statute passages for retrieval: one passage per article, from the dataset's コンテキスト
// excerpts ("## 法令名 / ### 第N条 / #### 第M項 / ##### 第K号" markdown) or from e-Gov law XML
// files (Law/LawBody/LawTitle, Article/ArticleTitle/ArticleCaption, Paragraph/Item/Sentence).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/eval/dataset.h"
#include "engine/eval/prompts.h"

namespace ritsu::eval {

// Splits one コンテキスト into article passages: a "## " line sets the law, a "### " line
// starts an article; deeper headings (項/号) stay inside the article's text.
std::vector<Passage> PassagesFromContext(const std::string& context);

// All articles of all samples' コンテキスト, merged by id (law + article): the same article
// quoted by several questions becomes one passage holding each distinct line once, in order of
// first appearance.
std::vector<Passage> CorpusFromDataset(const std::vector<Sample>& samples);

// Articles of one e-Gov law XML file. Errors name the file.
Result<std::vector<Passage>> PassagesFromEgovXml(const std::string& path);
// Every *.xml file under `dir` (recursively, sorted by path so the corpus order is stable).
Result<std::vector<Passage>> PassagesFromEgovDir(const std::string& dir);

// Appends `more` to `corpus`, merging passages with an id already present.
void MergePassages(std::vector<Passage>* corpus, const std::vector<Passage>& more);

}  // namespace ritsu::eval
