// Which kind of runtime thread the calling thread is. Set by the Runtime for
// its own threads; used to catch a blocking call made on the event loop.
#pragma once

namespace sluice::detail {

enum class ThreadRole : unsigned char { kOther, kIo, kCpu };

ThreadRole this_thread_role();

// Sets the calling thread's role for the lifetime of the scope.
class ThreadRoleScope {
 public:
  explicit ThreadRoleScope(ThreadRole role);
  ~ThreadRoleScope();
  ThreadRoleScope(const ThreadRoleScope&) = delete;
  ThreadRoleScope& operator=(const ThreadRoleScope&) = delete;

 private:
  ThreadRole previous_;
};

}  // namespace sluice::detail
