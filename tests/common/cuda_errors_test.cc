// Every error code the driver header defines has its name and a text (a wrong token to remoted
// was "unknown error": CUDA_ERROR_NOT_PERMITTED had none). The header is read here on its own.
#include "common/cuda_errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace vxpu {
namespace {

TEST(CudaErrors, EveryCodeInTheHeaderHasItsName) {
  std::ifstream in(VXPU_CUDA_H);
  std::stringstream text;
  text << in.rdbuf();
  std::string header = text.str();
  size_t begin = header.find("typedef enum cudaError_enum {");
  ASSERT_NE(begin, std::string::npos);
  std::string errors = header.substr(begin, header.find("} CUresult;", begin) - begin);
  std::regex entry("(CUDA_(?:SUCCESS|ERROR_[A-Z0-9_]+)) *= *([0-9]+)");
  int checked = 0;
  for (auto it = std::sregex_iterator(errors.begin(), errors.end(), entry); it != std::sregex_iterator(); ++it) {
    CUresult code = static_cast<CUresult>(std::stoi((*it)[2]));
    const char* name = nullptr;
    const char* what = nullptr;
    EXPECT_EQ(ErrorName(code, &name), CUDA_SUCCESS) << (*it)[1];
    EXPECT_STREQ(name, (*it)[1].str().c_str());
    EXPECT_EQ(ErrorString(code, &what), CUDA_SUCCESS) << (*it)[1];
    EXPECT_TRUE(what != nullptr && *what != '\0') << (*it)[1];
    ++checked;
  }
  EXPECT_GT(checked, 90);
  const char* what = nullptr;
  ASSERT_EQ(ErrorString(CUDA_ERROR_NOT_PERMITTED, &what), CUDA_SUCCESS);
  EXPECT_STREQ(what, "operation not permitted");
  EXPECT_EQ(ErrorName(static_cast<CUresult>(555), &what), CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace vxpu
