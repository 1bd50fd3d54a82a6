// Where S3 credentials and the region come from, in the order the AWS tools
// use: the environment, then the shared credentials and config files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigv4.h"
#include "sluice/status.h"
#include "sluice/store.h"

namespace sluice::s3 {

// Reads an environment variable (a seam: tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

struct AwsSettings {
  Credentials credentials;
  std::string region;  // empty if none is configured
  std::string source;  // "environment" or "<file> [profile]": where the credentials came from
};

// Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
// else profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
// (default ~/.aws/credentials). Region: AWS_REGION, AWS_DEFAULT_REGION, then
// the profile's region in AWS_CONFIG_FILE (default ~/.aws/config).
// Errors name the variable, file, profile or key at fault, never a value.
Result<AwsSettings> resolve_aws_settings(const EnvLookup& env = process_env());

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
