// A private temporary directory (mkdtemp under $TMPDIR or /tmp), removed with
// its contents when it goes out of scope unless keep() was called.
#pragma once

#include <string>

namespace cqcli {

class TempDir {
  public:
    explicit TempDir(const std::string &prefix);  // throws SysError
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    void keep() { keep_ = true; }

  private:
    std::string path_;
    bool keep_ = false;
};

}  // namespace cqcli
