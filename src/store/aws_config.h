// The AWS settings outside the credentials (credentials.h): the region, the
// shared profile files, S3 URLs, and S3's XML answers.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice::s3 {

// Reads an environment variable (a seam: tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

// The shared credentials and config files, as the AWS tools write them:
// AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), sections named
// for their profile, and AWS_CONFIG_FILE (default ~/.aws/config), sections
// "default" and "profile NAME".
class ProfileFiles {
 public:
  using Section = std::map<std::string, std::string>;
  explicit ProfileFiles(const EnvLookup& env);

  // The profile's keys, the credentials file's winning over the config
  // file's; nullopt if neither file has it.
  std::optional<Section> profile(const std::string& name) const;
  // Where a profile is, for messages: "FILE [name]".
  std::string where(const std::string& name) const;
  const std::string& credentials_path() const { return credentials_path_; }
  const std::string& config_path() const { return config_path_; }

 private:
  std::string credentials_path_, config_path_;
  std::map<std::string, Section> credentials_, config_;  // by profile name
};

// The profile to use: AWS_PROFILE, else "default".
std::string profile_name(const EnvLookup& env);

// The region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region in
// the config file; empty if none. kInvalidArgument for a malformed one,
// naming the variable.
Result<std::string> resolve_region(const EnvLookup& env = process_env());

// s3://bucket[/prefix]
struct S3Location {
  std::string bucket;
  std::string prefix;  // without a leading '/'; may be empty
};
// Fails with kInvalidArgument saying what is wrong (scheme, bucket name rules).
Result<S3Location> parse_s3_url(std::string_view url);

// An S3 error body: <Error><Code/><Message/><RequestId/></Error>.
struct S3Error {
  std::string code;
  std::string message;
  std::string request_id;
};
std::optional<S3Error> parse_s3_error(std::string_view xml);

// Every <Contents> (key and size) of a ListObjectsV2 answer.
std::vector<ObjectInfo> parse_list_contents(std::string_view xml);

// The text of the first <name>...</name> in xml, unescaped; nullopt if none.
// (S3's answers are simple enough for this; no namespaces or CDATA.)
std::optional<std::string> xml_element(std::string_view xml, std::string_view name);

}  // namespace sluice::s3
