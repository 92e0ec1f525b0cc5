// What the command lines of vxpu, vxpud and vxpu-scheduler say when CLI11 refuses one, said for a
// person: an unknown option with the nearest known one ("did you mean --seconds?"), a value out
// of range without CLI11's six decimals. Header-only, on strings and CLI11's App.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

namespace vxpu {

// Edit distance between `a` and `b` (insertions, deletions, substitutions).
inline size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (did you mean --seconds?)" for `word` ("--second") among `app`'s long options, or "".
inline std::string DidYouMean(const std::string& word, const CLI::App& app) {
  std::string best;
  size_t best_distance = 3;  // a closer match than this, or none
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      std::string candidate = "--" + name;
      size_t distance = EditDistance(word, candidate);
      if (candidate.rfind(word, 0) == 0 && word.size() > 3) distance = std::min<size_t>(distance, 1);
      if (distance < best_distance) {
        best_distance = distance;
        best = candidate;
      }
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

// 2.000000 -> 2, 0.100000 -> 0.1.
inline std::string TrimmedNumber(std::string number) {
  if (number.find('.') == std::string::npos) return number;
  while (!number.empty() && number.back() == '0') number.pop_back();
  if (!number.empty() && number.back() == '.') number.pop_back();
  return number;
}

// CLI11's message `what` for a refused command line of `app`, said plainly: extras name the first
// unknown option with the nearest known one; range errors say what is wanted.
inline std::string PlainParseError(const CLI::ParseError& e, const CLI::App& app) {
  std::string what = e.what();
  std::smatch m;
  static const std::regex kRange("(--[a-z-]+): Value (\\S+) not in range (\\S+) to (\\S+)");
  if (std::regex_search(what, m, kRange))
    return m[1].str() + " " + m[2].str() + ": want " + TrimmedNumber(m[3]) + " to " + TrimmedNumber(m[4]);
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    std::string extras = what.substr(what.find(": ") == std::string::npos ? 0 : what.find(": ") + 2);
    std::vector<std::string> words;
    for (size_t at = 0; at < extras.size();) {
      size_t end = extras.find(' ', at);
      if (end == std::string::npos) end = extras.size();
      if (end > at) words.push_back(extras.substr(at, end - at));
      at = end + 1;
    }
    for (const std::string& word : words) {
      if (word.rfind("-", 0) == 0) return "unknown option " + word + DidYouMean(word, app);
    }
    if (!words.empty()) return "unexpected \"" + words.front() + "\" (options take one value each)";
  }
  return what;
}

}  // namespace vxpu
