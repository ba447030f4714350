// A live status line on stderr, rewritten in place with '\r' — only when
// stderr is a terminal (a log file would fill with half-lines otherwise).
// Ordinary lines printed through it appear above the status line.
#pragma once

#include <string>

namespace cqcli {

class ProgressLine {
  public:
    ProgressLine();
    ~ProgressLine() { clear(); }
    ProgressLine(const ProgressLine &) = delete;
    ProgressLine &operator=(const ProgressLine &) = delete;

    bool enabled() const { return tty_; }
    // Replaces the status line (no-op when stderr is not a terminal).
    void update(const std::string &status);
    // Erases the status line.
    void clear();
    // Prints a whole line on stdout, keeping the status line below it.
    void println(const std::string &line);

  private:
    bool tty_;
    std::string shown_;
};

}  // namespace cqcli
