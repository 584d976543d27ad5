package sms_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/otpgate/otpgate/sms"
)

// An HTTP SMS gateway configured as WSO2 Identity Server's SMS OTP
// authenticator is: a URL, a method, headers and a payload template in
// which $ctx.num and $ctx.msg are replaced (escaped for the body's type).
func ExampleNewHTTP() {
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		fmt.Printf("%s %s to=%s body=%q\n", r.Method, r.URL.Path, form.Get("To"), form.Get("Body"))
	}))
	defer gateway.Close()

	sender, err := sms.NewHTTP(sms.HTTPConfig{
		URL:     gateway.URL + "/messages",
		Headers: "Authorization: Bearer s3cret",
		Payload: "Body=$ctx.msg&To=$ctx.num&From=otpgate",
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sender.Send(context.Background(), "+15550100006", "Your code is 123456"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// POST /messages to=+15550100006 body="Your code is 123456"
}
