// The terms file vxpud writes for each registered slice and the interposer reads: what one
// writes the other reads back; anything else is refused with the line it is on.
#include "common/registered_terms.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace vxpu {
namespace {

TEST(RegisteredTerms, WhatIsWrittenIsReadBack) {
  TermsVars vars = {{"VXPU_SLICE", "a"}, {"VXPU_STATE_DIR", "/run/vxpu"}, {"VXPU_MEMORY", "1073741824B"}};
  TermsVars back;
  std::string error;
  ASSERT_TRUE(ParseTermsFile(FormatTermsFile(vars), &back, &error)) << error;
  EXPECT_EQ(back, vars);
}

TEST(RegisteredTerms, AnythingButTheTermsOnceEachIsRefused) {
  TermsVars vars;
  std::string error;
  EXPECT_FALSE(ParseTermsFile("VXPU_MEMORY=1GiB\nLD_PRELOAD=/x.so\n", &vars, &error));
  EXPECT_EQ(error, "line 2: want one of the VXPU_* terms as KEY=VALUE, once");
  EXPECT_FALSE(ParseTermsFile("VXPU_MEMORY=1GiB\nVXPU_MEMORY=8GiB\n", &vars, &error));
  EXPECT_FALSE(ParseTermsFile("VXPU_MEMORY\n", &vars, &error));
  EXPECT_FALSE(ParseTermsFile("VXPU_MEMORY=1GiB\r\n", &vars, &error));
  EXPECT_TRUE(ParseTermsFile("# comment\n\nVXPU_COMPUTE=30%\n", &vars, &error)) << error;
}

TEST(RegisteredTerms, AMissingFileIsNoErrorAndAnUnreadableOneIs) {
  TermsVars vars;
  std::string error;
  EXPECT_FALSE(ReadTermsFile("/nonexistent/vxpu/terms.env", &vars, &error));
  EXPECT_EQ(error, "");
  char pattern[] = "/tmp/vxpu-terms-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  std::string dir = pattern, fifo = dir + "/fifo", big = dir + "/big";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(ReadTermsFile(fifo, &vars, &error));  // does not hang on it
  std::ofstream(big) << std::string(5000, '#');
  EXPECT_FALSE(ReadTermsFile(big, &vars, &error));
  EXPECT_NE(error.find("over 4096 bytes"), std::string::npos) << error;
  unlink(fifo.c_str());
  unlink(big.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace vxpu
